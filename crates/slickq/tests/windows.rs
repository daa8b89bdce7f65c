//! The `slickq` binary on Windows (run under Wine here): every command that
//! makes sense there works on a named mapping, and the two that cannot do
//! what they do on Linux say why. The test process holds each queue while
//! slickq runs, since a Windows mapping lives only while someone holds it.
#![cfg(windows)]

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use slick_queue::{ByteQueue, Options};

const BIN: &str = env!("CARGO_BIN_EXE_slickq");

fn name(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!("sqcli_{tag}_{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

fn run(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot run slickq");
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin.write_all(input).expect("write stdin");
    drop(stdin);
    child.wait_with_output().expect("slickq did not finish")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn ls_says_it_cannot_enumerate_named_mappings() {
    let o = run(&["ls"], b"");
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let err = text(&o.stderr);
    assert!(err.contains("cannot enumerate"), "{err}");
    assert!(o.stdout.is_empty());
    let o = run(&["rm", "--stale"], b"");
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(text(&o.stderr).contains("cannot enumerate"));
}

#[test]
fn rm_says_there_is_nothing_to_remove_and_leaves_the_queue() {
    let n = name("rm");
    let q = ByteQueue::create_or_open(&n, 16, 8, &Options::new()).unwrap();
    q.push(&3u64.to_le_bytes()).unwrap();
    let o = run(&["rm", &n], b"");
    assert!(o.status.success(), "{o:?}");
    let out = text(&o.stdout);
    assert!(out.contains("not removed") && out.contains("last"), "{out}");
    let again = ByteQueue::open(&n, 8, &Options::new()).unwrap();
    let mut cur = 0;
    assert_eq!(again.read(&mut cur).unwrap().to_vec(), 3u64.to_le_bytes());
    // A name nobody holds is reported as missing.
    let o = run(&["rm", &name("nobody")], b"");
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(text(&o.stderr).contains("no shared-memory queue named"), "{}", text(&o.stderr));
}

#[test]
fn produce_consume_inspect_stat_and_tail_on_a_named_mapping() {
    let n = name("io");
    let q = ByteQueue::create_or_open(&n, 64, 32, &Options::new()).unwrap();
    let o = run(&["produce", &n], b"first\nsecond\n");
    assert!(o.status.success(), "{}", text(&o.stderr));
    let mut cur = 0;
    assert_eq!(&q.read(&mut cur).unwrap().to_vec()[..5], b"first");

    let o = run(&["consume", &n, "--from-start", "-n", "2"], b"");
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout).lines().collect::<Vec<_>>(), ["first", "second"]);

    let o = run(&["tail", &n, "--from-start", "--format", "utf8", "-n", "2"], b"");
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("utf8=\"second\""), "{}", text(&o.stdout));

    let o = run(&["inspect", &n, "--json"], b"");
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let seg = &v;
    assert_eq!(seg["name"], n.as_str());
    assert_eq!(seg["mode"], "-", "no mode bits on Windows");
    assert_eq!(seg["header"]["capacity"], 64);
    assert_eq!(seg["bytes"].as_u64().unwrap() % 4096, 0, "a whole number of pages");

    let o = run(&["stat", &n, "-n", "1", "--json"], b"");
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("\"write_index\""), "{}", text(&o.stdout));
}
