//! `slickq` on a hostile or careless host: objects planted in /dev/shm under
//! a queue's name (symbolic links, FIFOs), creation modes with special bits,
//! a full /dev/shm (in a private mount namespace), queues owned by another
//! user.

mod common;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use slick_queue::{Options, Queue};

/// Runs `slickq args...` (stdin `input`), killing it after `limit`; returns
/// its output and how long it took.
fn run_within(args: &[&str], input: &[u8], limit: Duration) -> (Output, Duration) {
    use std::io::Write;
    let start = Instant::now();
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot run slickq");
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(input);
    drop(stdin);
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let took = start.elapsed();
    (child.wait_with_output().unwrap(), took)
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

/// A symbolic link in /dev/shm named like a queue, pointing at a
/// zero-filled file: `produce --create`, `produce`, `tail`, `consume` and
/// `inspect` all fail and the file stays all zeros.
#[test]
fn a_symlink_named_like_a_queue_is_never_written_through() {
    let name = Name::new("symlink");
    let target = std::env::temp_dir().join(format!("{}_target", name.as_str()));
    std::fs::write(&target, vec![0u8; 1 << 16]).unwrap();
    std::os::unix::fs::symlink(&target, name.path()).unwrap();
    let n = name.as_str();
    for args in [
        vec!["produce", n, "--create", "64", "--element-size", "8"],
        vec!["produce", n],
        vec!["tail", n],
        vec!["consume", n, "--idle-timeout", "100ms"],
        vec!["inspect", n],
    ] {
        let (o, _) = run_within(&args, b"hello\nworld\n", Duration::from_secs(10));
        fails_with(&o, 1, "");
        assert!(stderr(&o).contains("symbolic link"), "{args:?}: {}", stderr(&o));
    }
    let after = std::fs::read(&target).unwrap();
    let _ = std::fs::remove_file(&target);
    assert_eq!(after.len(), 1 << 16);
    assert!(after.iter().all(|b| *b == 0), "the link's target was written");
}

/// A FIFO named like a queue: `inspect`, `tail`, `stat`, `consume` and `rm`
/// each return an error within a second instead of blocking in open(2).
#[test]
fn a_fifo_named_like_a_queue_is_an_error_within_a_second() {
    let name = Name::new("fifo");
    let made = Command::new("mkfifo").arg(name.path()).status().expect("mkfifo (coreutils)");
    assert!(made.success());
    let n = name.as_str();
    for args in [
        vec!["inspect", n],
        vec!["tail", n],
        vec!["stat", n, "--count", "1", "--interval", "10ms"],
        vec!["consume", n, "--idle-timeout", "10ms"],
        vec!["produce", n],
        vec!["rm", n],
    ] {
        let (o, took) = run_within(&args, b"", Duration::from_secs(10));
        assert!(took < Duration::from_secs(1), "{args:?} took {took:?}");
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    }
    assert!(name.path().symlink_metadata().is_ok(), "rm without --force removed a FIFO that is not a queue");
}

/// `--mode` with setuid, setgid or sticky bits is a usage error that says
/// so, and creates nothing.
#[test]
fn mode_with_special_bits_is_refused() {
    let name = Name::new("suid");
    for mode in ["4777", "2770", "1777", "6600"] {
        let o =
            slickq_stdin(&["produce", name.as_str(), "--create", "64", "--element-size", "8", "--mode", mode], b"x\n");
        fails_with(&o, 2, "setuid, setgid or sticky");
        assert!(!name.exists(), "--mode {mode} created the queue");
    }
    ok(&slickq_stdin(&["produce", name.as_str(), "--create", "64", "--element-size", "8", "--mode", "660"], b"x\n"));
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(name.path()).unwrap().mode() & 0o7777, 0o660);
}

/// `produce --create` of a queue larger than a full /dev/shm (a private
/// 16 MiB tmpfs in a private mount namespace): exit status 1, a one-line
/// message, no signal, no object left. Skipped (saying why) where unshare
/// is not permitted; CI runs as root, where it is.
#[test]
fn produce_create_on_a_full_dev_shm_is_a_one_line_error() {
    match Command::new("unshare").args(["-m", "true"]).output() {
        Ok(o) if o.status.success() => {}
        other => {
            println!("skipped: `unshare -m` is not permitted here: {other:?}");
            return;
        }
    }
    let script = "mount -t tmpfs -o size=16m tmpfs /dev/shm || exit 90; \
                  printf 'a\\nb\\n' | \"$0\" produce \"$1\" --create 1M --element-size 64; code=$?; \
                  if [ -e \"/dev/shm/$1\" ]; then echo LEFT-BEHIND >&2; fi; exit $code";
    let o = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", script, BIN, "slickq_full_probe"])
        .output()
        .unwrap();
    if o.status.code() == Some(90) {
        println!("skipped: mounting a tmpfs in a private namespace failed: {}", stderr(&o));
        return;
    }
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "status {:?}, stderr {err}", o.status);
    assert_eq!(err.lines().count(), 1, "not one line: {err}");
    assert!(err.starts_with("slickq: error:") && err.contains("no space left"), "{err}");
    assert!(!err.contains("LEFT-BEHIND"), "{err}");
}

/// A queue owned by another user is refused (the owner is named) unless
/// `--allow-foreign-owner` is given. As root (CI), the tool runs as
/// `nobody` against root's 0666 queue; as another user the test says why
/// it cannot run.
#[test]
fn another_users_queue_needs_allow_foreign_owner() {
    if !is_root() {
        println!("skipped: needs root to run slickq as another user (CI runs as root)");
        return;
    }
    let name = Name::new("foreign_uid");
    let q = Queue::<u64>::create_or_open(name.as_str(), 8, &Options::new().mode(0o666)).unwrap();
    q.push(7).unwrap();
    let as_nobody = |args: &[&str]| {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("setpriv (util-linux) is needed to test another user's queue")
    };
    fails_with(&as_nobody(&["tail", name.as_str(), "--from-start"]), 1, "owned by uid 0");
    fails_with(&as_nobody(&["consume", name.as_str(), "--idle-timeout", "10ms"]), 1, "allow_foreign_owner");
    let out = ok(&as_nobody(&["--allow-foreign-owner", "tail", name.as_str(), "--from-start"]));
    assert!(out.contains("index=0"), "{out}");
}

/// A static queue whose slots were overwritten with indices near 2^64
/// (each naming its own position): `tail` without `--follow` (also
/// `--from-start`) and `consume --idle-timeout` end instead of printing the
/// same slots for ever.
#[test]
fn drain_commands_end_on_corrupt_indices() {
    let name = Name::new("corrupt_idx");
    let q = Queue::<u64>::create_or_open(name.as_str(), 64, &Options::new()).unwrap();
    for i in 0..10 {
        q.push(i).unwrap();
    }
    let base = u64::MAX - 63;
    for i in 0..64u64 {
        let mut slot = [0u8; 16];
        slot[..8].copy_from_slice(&(base + i).to_le_bytes());
        slot[8..12].copy_from_slice(&1u32.to_le_bytes());
        poke(&name, 64 + 16 * i, &slot);
    }
    let n = name.as_str();
    for args in [
        vec!["tail", n],
        vec!["tail", n, "--from-start"],
        vec!["consume", n, "--idle-timeout", "200ms"],
        vec!["consume", n, "--from-start", "--idle-timeout", "200ms"],
    ] {
        let (o, took) = run_within(&args, b"", Duration::from_secs(20));
        assert!(o.status.code().is_some(), "{args:?} was killed after {took:?}: it did not end");
        assert!(o.stdout.len() < 1 << 16, "{args:?} printed {} bytes", o.stdout.len());
        assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    }
}
