//! Names the CLI cannot use: empty, with an inner '/', longer than
//! the platform allows, and not UTF-8 at all (argv is bytes on Unix; the
//! library takes `&str`). Each is a clear error with a non-zero exit code,
//! never a panic, and nothing is created.
#![cfg(target_os = "linux")]

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Stdio};

use common::{fails_with, slickq, Name, BIN};

/// Every subcommand that takes a queue name, with the arguments it needs
/// besides the name.
const NAMED: &[(&str, &[&str])] = &[
    ("inspect", &[]),
    ("tail", &["--idle-timeout", "10ms"]),
    ("stat", &["--count", "1"]),
    ("produce", &["--create", "8", "--element-size", "8"]),
    ("consume", &["-n", "1", "--idle-timeout", "10ms"]),
    ("rm", &[]),
];

#[test]
fn invalid_names_are_clear_errors_for_every_command() {
    let long = "n".repeat(256);
    for (bad, reason) in [
        ("", "the name is empty"),
        ("/", "the name is empty"),
        ("a/b", "may not contain '/'"),
        ("/a/b", "may not contain '/'"),
        ("..", "not object names"),
        (long.as_str(), "longer than 255 bytes"),
    ] {
        for (cmd, extra) in NAMED {
            let mut args = vec![*cmd, bad];
            args.extend_from_slice(extra);
            let out = slickq(&args);
            fails_with(&out, 1, reason);
            assert!(String::from_utf8_lossy(&out.stderr).contains("invalid shared-memory name"), "{cmd} {bad:?}");
        }
    }
    assert!(!std::path::Path::new("/dev/shm/a").exists() || std::fs::metadata("/dev/shm/a").is_ok());
}

#[test]
fn the_longest_name_works_end_to_end() {
    let name = Name::new("");
    let long = format!("{}{}", name.as_str(), "L".repeat(255 - name.as_str().len()));
    assert_eq!(long.len(), 255);
    let _cleanup = Name::adopt(long.clone());
    let out = Command::new(BIN)
        .args(["produce", &long, "--create", "8", "--element-size", "8"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    common::ok(&slickq(&["inspect", &format!("/{long}")]));
    common::ok(&slickq(&["rm", &long]));
    assert!(!std::path::Path::new("/dev/shm").join(&long).exists());
}

#[test]
fn non_utf8_names_from_argv_are_refused() {
    let bad = OsStr::from_bytes(b"sq\xffbad");
    for (cmd, extra) in NAMED {
        let out = Command::new(BIN).arg(cmd).arg(bad).args(*extra).stdin(Stdio::null()).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {err}");
        assert!(err.contains("invalid UTF-8"), "{cmd}: {err}");
        assert!(!err.contains("panicked"), "{cmd}: {err}");
    }
    assert!(!std::path::Path::new(OsStr::from_bytes(b"/dev/shm/sq\xffbad")).exists());
}

/// An object in /dev/shm whose name is not UTF-8 (made by some other
/// program) cannot be a queue name for the library; `ls` and `rm --stale`
/// skip it rather than fail, and never remove it.
#[test]
fn listing_survives_a_non_utf8_object_name() {
    let tag = Name::new("nonutf8");
    let mut raw = tag.as_str().as_bytes().to_vec();
    raw.extend_from_slice(b"\xfe");
    let path = std::path::Path::new("/dev/shm").join(OsStr::from_bytes(&raw));
    std::fs::write(&path, [0u8; 100]).unwrap();
    let ls = slickq(&["ls", "--all"]);
    let listed = common::ok(&ls);
    // Listed (with --all) under its escaped name, never as raw bytes.
    assert!(listed.contains(&format!("{}\\xfe", tag.as_str())), "{listed}");
    assert!(!ls.stdout.contains(&0xfe), "{listed}");
    let rm = slickq(&["rm", "--stale", "--grace", "0s", "--prefix", tag.as_str()]);
    common::ok(&rm);
    assert!(path.exists(), "rm --stale removed an object it cannot name");
    std::fs::remove_file(&path).unwrap();
}
