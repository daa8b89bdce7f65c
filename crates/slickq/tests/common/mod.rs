//! Helpers shared by the integration tests of the `slickq` binary: running
//! it, segment fixtures, and (from the workspace's `testkit`) unique segment
//! names cleaned up on drop and the PyPI peer `slick-queue-py` driven as a
//! subprocess.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStderr, ChildStdout, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

pub const BIN: &str = env!("CARGO_BIN_EXE_slickq");

/// Runs `slickq args...` to completion with empty stdin.
pub fn slickq(args: &[&str]) -> Output {
    Command::new(BIN).args(args).stdin(Stdio::null()).output().expect("cannot run slickq")
}

/// Spawns `cmd` with its stdin, stdout and stderr piped.
pub fn spawn_piped(cmd: &mut Command) -> std::io::Result<Child> {
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()
}

/// Runs `slickq args...` with `input` on stdin.
pub fn slickq_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = spawn_piped(Command::new(BIN).args(args)).expect("cannot run slickq");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("slickq did not finish");
    writer.join().unwrap();
    out
}

/// Runs `slickq args...` (stdin `input`), killing it after `limit`; returns
/// its output and how long it took.
pub fn slickq_within(args: &[&str], input: &[u8], limit: Duration) -> (Output, Duration) {
    let start = Instant::now();
    let mut child = spawn_piped(Command::new(BIN).args(args)).expect("cannot run slickq");
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

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts success and returns stdout.
#[track_caller]
pub fn ok(o: &Output) -> String {
    assert!(o.status.success(), "slickq failed ({}):\nstdout:\n{}\nstderr:\n{}", o.status, stdout(o), stderr(o));
    stdout(o)
}

/// Asserts a failure with exit code `code`, nothing on stdout, a message
/// starting with `slickq` on stderr that contains `needle`.
#[track_caller]
pub fn fails_with(o: &Output, code: i32, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "expected exit {code}; stdout:\n{}\nstderr:\n{err}", stdout(o));
    assert!(err.contains(needle), "stderr does not mention {needle:?}:\n{err}");
    assert!(!err.contains("panicked"), "slickq panicked:\n{err}");
}

/// A segment name unique to this test process, removed (with the doorbell
/// object beside it) when dropped: the workspace's `testkit::ShmGuard`.
pub use testkit::ShmGuard as Name;

/// Sets the object's modification time `secs` seconds in the past.
pub fn age(name: &Name, secs: u64) {
    let f = std::fs::OpenOptions::new().write(true).open(name.path()).unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(secs)).unwrap();
}

/// Overwrites bytes of the object at `offset` (a fixture for broken segments).
pub fn poke(name: &Name, offset: u64, bytes: &[u8]) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new().write(true).open(name.path()).unwrap();
    f.write_all_at(bytes, offset).unwrap();
}

/// Whether the tests that need the PyPI peer `slick-queue-py==2.3.0` run
/// (`SLICK_PEER_PYTHON` set, as `./scripts/test` does); if not, says once
/// why they are skipped.
pub fn peer_enabled() -> bool {
    testkit::peer_enabled("the slickq tests of segments made")
}

/// Runs a role of the PyPI peer's driver (`crates/testkit/peer.py`) on the
/// segment `name`; panics with its output if it fails.
#[track_caller]
pub fn peer(role: &str, name: &str, args: &[&str]) -> String {
    let out = testkit::peer_command(role, name, args).output().expect("cannot run the peer python");
    assert!(
        out.status.success(),
        "peer {role} {name} {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A running `slickq` whose output lines arrive through channels, killed
/// (if still running) when dropped. A watchdog kills it after 120 s so a
/// broken command fails its test instead of hanging it.
pub struct Running {
    child: Child,
    pub lines: mpsc::Receiver<String>,
    pub err_lines: mpsc::Receiver<String>,
}

fn pump<R: std::io::Read + Send + 'static>(r: R) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

impl Running {
    pub fn start(args: &[&str]) -> Running {
        let mut child = Command::new(BIN)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot run slickq");
        let out: ChildStdout = child.stdout.take().unwrap();
        let err: ChildStderr = child.stderr.take().unwrap();
        Running { child, lines: pump(out), err_lines: pump(err) }
    }

    /// The next stdout line (panics if none comes within the watchdog time).
    #[track_caller]
    pub fn line(&self) -> String {
        self.lines.recv_timeout(Duration::from_secs(120)).expect("slickq printed no further line")
    }

    /// The next stderr line.
    #[track_caller]
    pub fn err_line(&self) -> String {
        self.err_lines.recv_timeout(Duration::from_secs(120)).expect("slickq printed no further stderr line")
    }

    /// Waits for the process to exit by itself (killing it after 120 s) and
    /// returns its exit status and remaining stdout lines.
    pub fn finish(mut self) -> (std::process::ExitStatus, Vec<String>) {
        for _ in 0..1200 {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let status = self.child.wait().unwrap();
        let rest = self.lines.iter().collect();
        (status, rest)
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The row of `ls` (table output) for `name`, split into columns.
pub fn ls_row(table: &str, name: &str) -> Option<Vec<String>> {
    table
        .lines()
        .map(|l| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .find(|c| c.first().map(String::as_str) == Some(name))
}
