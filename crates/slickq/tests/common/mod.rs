//! Helpers shared by the integration tests of the `slickq` binary: running
//! it, unique segment names cleaned up on drop, segment fixtures, and the
//! PyPI peer `slick-queue-py` driven as a subprocess.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdout, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, SystemTime};

pub const BIN: &str = env!("CARGO_BIN_EXE_slickq");

/// Runs `slickq args...` to completion with empty stdin.
pub fn slickq(args: &[&str]) -> Output {
    Command::new(BIN).args(args).stdin(Stdio::null()).output().expect("cannot run slickq")
}

/// Runs `slickq args...` with `input` on stdin.
pub fn slickq_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot run slickq");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("slickq did not finish");
    writer.join().unwrap();
    out
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

/// A segment name unique to this test process, removed (with the peer's or
/// any other spelling) when dropped.
pub struct Name(pub String);

impl Name {
    pub fn new(test: &str) -> Name {
        let n = Name(format!("slickq_t{}_{test}", std::process::id()));
        let _ = std::fs::remove_file(n.path());
        n
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn path(&self) -> PathBuf {
        Path::new("/dev/shm").join(&self.0)
    }
    pub fn exists(&self) -> bool {
        self.path().exists()
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.path());
        // and the doorbell object our library creates beside a queue
        let _ = std::fs::remove_file(Path::new("/dev/shm").join(slick_queue::doorbell_name(&self.0)));
    }
}

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

/// Whether the tests that need the PyPI peer `slick-queue-py==2.3.0` run:
/// only when `SLICK_PEER_PYTHON` names its interpreter. `./scripts/test` (and
/// so CI) always sets it (scripts/env.sh), and there a missing interpreter
/// fails the test. A plain `cargo test` on a fresh clone has no peer: each
/// such test then returns early, and this binary says why once on stderr
/// (written past the test harness's capture, so it shows in the output).
pub fn peer_enabled() -> bool {
    if std::env::var_os("SLICK_PEER_PYTHON").is_some() {
        return true;
    }
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "note: SLICK_PEER_PYTHON is not set: the slickq tests that use segments made by the PyPI peer \
             slick-queue-py==2.3.0 are skipped (./scripts/test runs them)"
        );
    });
    false
}

/// The python interpreter that has `slick_queue_py==2.3.0` installed:
/// `$SLICK_PEER_PYTHON` (only called after [`peer_enabled`]). A path that
/// does not exist fails the test: once asked for, the peer is part of the
/// contract.
pub fn peer_python() -> PathBuf {
    let candidate = PathBuf::from(std::env::var_os("SLICK_PEER_PYTHON").expect("SLICK_PEER_PYTHON is set"));
    assert!(
        candidate.exists(),
        "the PyPI peer interpreter {} does not exist: run ./scripts/setup (which installs slick-queue-py==2.3.0 \
         into .peer-venv) or set SLICK_PEER_PYTHON to a python that has it",
        candidate.display()
    );
    candidate
}

/// A small driver over the PyPI peer. Commands:
///   create NAME SIZE ELEMENT_SIZE [ITEMS_PER_SLOT]
///   publish NAME ELEMENT_SIZE HEX...   (one record per HEX, as many elements as it needs)
///   read NAME ELEMENT_SIZE             (every record from 0: "index size hex" lines)
const PEER: &str = r#"
import sys
import slick_queue_py as sq
assert sq.__version__ == "2.3.0", sq.__version__
cmd, name = sys.argv[1], sys.argv[2]
if cmd == "create":
    size, es = int(sys.argv[3]), int(sys.argv[4])
    ips = int(sys.argv[5]) if len(sys.argv) > 5 else None
    q = sq.SlickQueue(name=name, size=size, element_size=es, items_per_slot=ips)
    q.close()
elif cmd == "publish":
    es = int(sys.argv[3])
    q = sq.SlickQueue(name=name, element_size=es)
    for h in sys.argv[4:]:
        data = bytes.fromhex(h)
        n = max(1, -(-len(data) // es))
        i = q.reserve(n)
        padded = data + bytes(n * es - len(data))
        for k in range(n):
            q[i + k][:] = padded[k * es:(k + 1) * es]
        q.publish(i, n)
    q.close()
elif cmd == "read":
    es = int(sys.argv[3])
    q = sq.SlickQueue(name=name, element_size=es)
    cur = 0
    while True:
        data, size, new = q.read(cur)
        if data is None:
            break
        print(new - size if q.items_per_slot == 1 else cur, size, data.hex())
        cur = new
    q.close()
else:
    raise SystemExit("unknown command " + cmd)
"#;

/// Runs the peer driver; panics with its output if it fails.
#[track_caller]
pub fn peer(args: &[&str]) -> String {
    let out = Command::new(peer_python()).arg("-c").arg(PEER).args(args).output().expect("cannot run the peer python");
    assert!(
        out.status.success(),
        "peer {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
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
