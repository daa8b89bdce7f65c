//! End-to-end tests of `slickq bridge send` / `slickq bridge recv`: real
//! processes, two Zenoh sessions over TCP on 127.0.0.1.
//!
//! Network safety: every test runs inside a private network namespace whose
//! only interface is `lo`, so nothing can leave the machine even by mistake,
//! and every Zenoh session is configured with multicast scouting and gossip
//! off and explicit 127.0.0.1 endpoints. A test started outside such a
//! namespace re-executes itself (just that test) under `unshare -n` when it
//! runs as root; otherwise it says why it skips and returns.

//!
//! Linux only (a private network namespace: unshare, ip), and only with the
//! "bridge" feature that builds `slickq bridge`.
#![cfg(all(target_os = "linux", feature = "bridge"))]

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use common::{Name, BIN};
use slick_queue::{ByteQueue, Options};

const INNER: &str = "SLICKQ_BRIDGE_TEST_NETNS";

/// The interfaces of this process's network namespace (from /proc/self/net/dev,
/// which, unlike /sys/class/net, follows the namespace of the reader).
fn interfaces() -> Vec<String> {
    let dev = std::fs::read_to_string("/proc/self/net/dev").unwrap_or_default();
    dev.lines().skip(2).filter_map(|l| l.split(':').next()).map(|s| s.trim().to_owned()).collect()
}

/// True when the test may run here (a private namespace with only `lo`).
/// Otherwise re-runs `test` in one (as root, with `unshare` and `ip`) and
/// asserts that it passed there, or prints why it skips; returns false.
fn in_private_netns(test: &str) -> bool {
    let ifs = interfaces();
    if ifs == ["lo"] {
        return true;
    }
    if std::env::var_os(INNER).is_some() {
        panic!("inside the private network namespace but the interfaces are {ifs:?}, not just lo");
    }
    let is_root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false);
    let have = |tool: &str| {
        Command::new(tool).arg("--help").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
            || Command::new(tool).arg("help").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
    };
    if !is_root {
        eprintln!(
            "SKIPPED {test}: the bridge tests run only in a private network namespace with just lo up, \
             made with `unshare -n`, which needs root (CI runs as root). Interfaces here: {ifs:?}"
        );
        return false;
    }
    // As root they must run: a missing tool is a failure, not a skip.
    assert!(
        have("unshare") && have("ip"),
        "{test}: running as root but `unshare` (util-linux) or `ip` (iproute2) is missing: run ./scripts/setup"
    );
    let exe = std::env::current_exe().expect("no current_exe");
    let out = Command::new("unshare")
        .args(["-n", "sh", "-c", r#"ip link set lo up && exec "$0" "$@""#])
        .arg(&exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(INNER, "1")
        .output()
        .expect("cannot run unshare");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains(&format!("test {test} ... ok")) && stdout.contains("1 passed"),
        "{test} failed in its private network namespace ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    eprintln!("{test}: passed in a private network namespace (unshare -n, only lo)");
    false
}

/// A Zenoh configuration for the tests: peer mode, multicast scouting and
/// gossip off, quick reconnection; the endpoints come from the command line.
fn zenoh_config(tag: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("slickq_bridge_{}_{tag}.json5", std::process::id()));
    std::fs::write(
        &p,
        r#"{
  mode: "peer",
  scouting: { multicast: { enabled: false }, gossip: { enabled: false } },
  connect: { retry: { period_init_ms: 100, period_max_ms: 500, period_increase_factor: 2 } },
}
"#,
    )
    .unwrap();
    p
}

/// A bridge process whose `--json` status lines arrive through a channel.
struct Bridge {
    child: Child,
    status: mpsc::Receiver<serde_json::Value>,
    stderr: mpsc::Receiver<String>,
    last: Option<serde_json::Value>,
}

impl Bridge {
    fn start(args: &[&str]) -> Bridge {
        let mut child = Command::new(BIN)
            .args(args)
            .args(["--json", "--interval", "100ms"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot run slickq");
        let (tx, status) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                let v: serde_json::Value =
                    serde_json::from_str(&line).unwrap_or_else(|e| panic!("not a JSON status line ({e}): {line}"));
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        let (etx, stderr) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                if etx.send(line).is_err() {
                    break;
                }
            }
        });
        Bridge { child, status, stderr, last: None }
    }

    fn send(queue: &str, key: &str, endpoint: (&str, &str), cfg: &Path, extra: &[&str]) -> Bridge {
        let mut args = vec!["bridge", "send", queue, "--key", key, endpoint.0, endpoint.1, "--config"];
        let cfg = cfg.to_str().unwrap();
        args.push(cfg);
        args.extend_from_slice(extra);
        Bridge::start(&args)
    }

    fn recv(key: &str, queue: &str, endpoint: (&str, &str), cfg: &Path, extra: &[&str]) -> Bridge {
        let mut args = vec!["bridge", "recv", key, queue, endpoint.0, endpoint.1, "--config"];
        let cfg = cfg.to_str().unwrap();
        args.push(cfg);
        args.extend_from_slice(extra);
        Bridge::start(&args)
    }

    /// Waits (up to `secs`) for a status line satisfying `pred`; returns it.
    #[track_caller]
    fn wait_for(&mut self, secs: u64, what: &str, pred: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if let Ok(v) = self.status.recv_timeout(Duration::from_millis(200)) {
                self.last = Some(v.clone());
                if pred(&v) {
                    return v;
                }
            }
            if let Ok(Some(st)) = self.child.try_wait() {
                // Its last lines may still be in the pipe: read to the end.
                while let Ok(v) = self.status.recv_timeout(Duration::from_secs(5)) {
                    self.last = Some(v.clone());
                    if pred(&v) {
                        return v;
                    }
                }
                let err: Vec<String> = self.stderr.try_iter().collect();
                panic!("bridge exited ({st}) while waiting for {what}; stderr:\n{}", err.join("\n"));
            }
        }
        let err: Vec<String> = self.stderr.try_iter().collect();
        panic!("no status line with {what} within {secs}s; last: {:?}; stderr:\n{}", self.last, err.join("\n"));
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill").args([sig, &self.child.id().to_string()]).status().unwrap().success();
        assert!(ok, "kill {sig} failed");
    }

    /// Stops it with SIGINT (Ctrl-C) and returns its final status line.
    #[track_caller]
    fn stop(mut self) -> serde_json::Value {
        self.signal("-INT");
        let fin = self.wait_for(30, "final: true", |v| v["final"] == true);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                let err: Vec<String> = self.stderr.try_iter().collect();
                assert!(st.success(), "bridge exited with {st} after Ctrl-C; stderr:\n{}", err.join("\n"));
                break;
            }
            assert!(Instant::now() < deadline, "bridge did not exit after Ctrl-C");
            thread::sleep(Duration::from_millis(20));
        }
        fin
    }

    /// Waits for it to exit by itself; returns its exit code and stderr.
    fn exit(mut self, secs: u64) -> (Option<i32>, String) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                thread::sleep(Duration::from_millis(100));
                let err: Vec<String> = self.stderr.try_iter().collect();
                return (st.code(), err.join("\n"));
            }
            assert!(Instant::now() < deadline, "bridge did not exit within {secs}s");
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Record `seq` of `elements` elements of `es` bytes: bytes 0..8 the
/// sequence number, 8..12 the element count, byte k >= 12 is (seq*7 + k) & 0xFF.
fn record(seq: u64, elements: u32, es: usize) -> Vec<u8> {
    let mut b: Vec<u8> = (0..elements as usize * es).map(|k| (seq.wrapping_mul(7) as usize + k) as u8).collect();
    b[0..8].copy_from_slice(&seq.to_le_bytes());
    b[8..12].copy_from_slice(&elements.to_le_bytes());
    b
}

/// Checks a record made by [`record`]; returns its sequence number.
#[track_caller]
fn check(b: &[u8], elements: usize, es: usize) -> u64 {
    assert_eq!(b.len(), elements * es, "record length");
    let seq = u64::from_le_bytes(b[0..8].try_into().unwrap());
    let n = u32::from_le_bytes(b[8..12].try_into().unwrap());
    assert_eq!(n as usize, elements, "element count of record {seq}");
    for (k, &x) in b.iter().enumerate().skip(12) {
        assert_eq!(x, (seq.wrapping_mul(7) as usize + k) as u8, "byte {k} of record {seq}");
    }
    seq
}

fn push(q: &ByteQueue, seq: u64, elements: u32) {
    let es = q.element_size() as usize;
    let i = q.reserve(elements).unwrap();
    q.write(i, &record(seq, elements, es)).unwrap();
    q.publish(i, elements).unwrap();
}

/// Every record of `q` from index 0: (sequence number, elements), checked.
fn read_all(q: &ByteQueue) -> Vec<(u64, usize)> {
    let es = q.element_size() as usize;
    let mut cursor = 0;
    let mut out = Vec::new();
    while let Some(r) = q.read(&mut cursor) {
        out.push((check(&r.to_vec(), r.len(), es), r.len()));
    }
    out
}

/// Waits until `q`'s write index stops moving for `quiet`.
fn wait_quiet(q: &ByteQueue, quiet: Duration, max: Duration) {
    let start = Instant::now();
    let mut last = q.initial_reading_index();
    let mut since = Instant::now();
    while start.elapsed() < max {
        thread::sleep(Duration::from_millis(20));
        let now = q.initial_reading_index();
        if now != last {
            last = now;
            since = Instant::now();
        } else if since.elapsed() >= quiet {
            return;
        }
    }
}

/// Rust producer -> queue A -> bridge send -> Zenoh -> bridge recv -> queue B
/// -> Python consumer: every record of a paced producer arrives in order
/// with the right bytes, records of 1 to 3 elements, ring B (2048
/// elements for about 6000) wrapping.
#[test]
fn bridge_end_to_end_rust_to_python_in_order_with_multi_element_records_and_wrap() {
    // The consumer is the PyPI peer: without it (a plain `cargo test`) the
    // test returns early, as the other peer tests do (testkit says so).
    if !testkit::peer_enabled("the bridge's end-to-end test to a Python consumer") {
        return;
    }
    if !in_private_netns("bridge_end_to_end_rust_to_python_in_order_with_multi_element_records_and_wrap") {
        return;
    }
    let (a, b) = (Name::new("br_e2e_a"), Name::new("br_e2e_b"));
    let cfg = zenoh_config("e2e");
    let es = 16usize;
    let qa = ByteQueue::create_or_open(a.as_str(), 4096, es as u32, &Options::new()).unwrap();
    let ep = "tcp/127.0.0.1:17501";
    let recv =
        Bridge::recv("test/e2e", b.as_str(), ("--listen", ep), &cfg, &["--create", "1024", "--element-size", "16"]);
    // --reliable (congestion control Block) in the tests that expect every
    // record: with the default drop policy a loaded machine may drop
    // messages when Zenoh's transmit queue is not drained in time (counted
    // as network loss; the unit tests of the receiver cover that count).
    let mut send = Bridge::send(a.as_str(), "test/e2e", ("--connect", ep), &cfg, &["--reliable"]);
    send.wait_for(60, "matched: true", |v| v["matched"] == true);

    let count = 3000u64;
    let py = testkit::peer_command(
        "consume_bridged",
        b.as_str(),
        &["--es", "16", "--count", &count.to_string(), "--timeout", "20"],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("cannot run the python consumer");
    thread::sleep(Duration::from_millis(500)); // the consumer attaches and starts reading
    let mut elements = 0u64;
    for seq in 0..count {
        let n = 1 + (seq % 3) as u32;
        push(&qa, seq, n);
        elements += u64::from(n);
        if seq % 4 == 3 {
            thread::sleep(Duration::from_millis(2));
        }
    }
    let out = py.wait_with_output().unwrap();
    let summary = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(out.status.success(), "python consumer failed: {summary}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        summary.starts_with(&format!("received={count} bad=0 out_of_order=0 multi={} lost=0 ", 2 * count / 3)),
        "python consumer: {summary}"
    );
    // Ring B (2048 elements) took every element: it wrapped several times.
    let end: u64 = summary.rsplit("end=").next().unwrap().parse().unwrap();
    assert!(end >= elements && end > 2 * 2048, "ring B end index {end} for {elements} elements");

    let s = send.stop();
    let r = recv.stop();
    assert_eq!(
        (s["records"].as_u64(), s["elements"].as_u64(), s["lost"].as_u64()),
        (Some(count), Some(elements), Some(0))
    );
    assert_eq!(r["records"].as_u64(), Some(count), "recv status {r}");
    assert_eq!(r["elements"].as_u64(), Some(elements), "recv status {r}");
    assert_eq!(r["lost"].as_u64(), Some(0), "recv status {r}");
    assert_eq!(r["malformed"].as_u64(), Some(0));
    assert!(s["messages"].as_u64().unwrap() <= count, "send status {s}");
    let _ = std::fs::remove_file(cfg);
}

/// Starts a recv (listening) and a send (connecting) on fresh queues and
/// waits until the sender sees the subscriber.
fn pair(tag: &str, port: u16, cap_a: u32, cap_b: u32) -> (Name, Name, ByteQueue, Bridge, Bridge, PathBuf) {
    pair_with(tag, port, cap_a, cap_b, 16, &["--reliable"])
}

/// [`pair`] with an element size and the sender's extra options.
fn pair_with(
    tag: &str,
    port: u16,
    cap_a: u32,
    cap_b: u32,
    es: u32,
    send_opts: &[&str],
) -> (Name, Name, ByteQueue, Bridge, Bridge, PathBuf) {
    let (a, b) = (Name::new(&format!("br_{tag}_a")), Name::new(&format!("br_{tag}_b")));
    let cfg = zenoh_config(tag);
    let qa = ByteQueue::create_or_open(a.as_str(), cap_a, es, &Options::new()).unwrap();
    let ep = format!("tcp/127.0.0.1:{port}");
    let key = format!("test/{tag}");
    let (cap, es) = (cap_b.to_string(), es.to_string());
    let recv = Bridge::recv(&key, b.as_str(), ("--listen", &ep), &cfg, &["--create", &cap, "--element-size", &es]);
    let mut send = Bridge::send(a.as_str(), &key, ("--connect", &ep), &cfg, send_opts);
    send.wait_for(60, "matched: true", |v| v["matched"] == true);
    (a, b, qa, send, recv, cfg)
}

/// A reader of queue B that the bridge laps: its loss count is exactly the
/// number of elements it missed, and the bridge itself lost nothing.
#[test]
fn bridge_loss_lapped_reader_of_the_receiving_queue_counts_exactly() {
    if !in_private_netns("bridge_loss_lapped_reader_of_the_receiving_queue_counts_exactly") {
        return;
    }
    let (_a, b, qa, send, recv, cfg) = pair("lapb", 17502, 4096, 256);
    let qb = ByteQueue::open(b.as_str(), 16, &Options::new()).unwrap();
    let mut cursor = qb.initial_reading_index();
    let total = 1200u64;
    let mut seen = Vec::new();
    for seq in 0..total {
        push(&qa, seq, 1);
        if seq % 8 == 7 {
            thread::sleep(Duration::from_millis(1));
        }
        // The reader keeps up for the first 100 records, then stops reading.
        if seq < 100 {
            let r = qb.read_timeout(&mut cursor, Duration::from_secs(10)).expect("record did not arrive");
            seen.push(check(&r.to_vec(), r.len(), 16));
        }
    }
    wait_quiet(&qb, Duration::from_millis(500), Duration::from_secs(30));
    while let Some(r) = qb.read(&mut cursor) {
        seen.push(check(&r.to_vec(), r.len(), 16));
    }
    let s = send.stop();
    let r = recv.stop();
    assert_eq!(r["records"].as_u64(), Some(total), "the bridge delivered everything: {r}");
    assert_eq!((r["lost"].as_u64(), s["lost"].as_u64()), (Some(0), Some(0)));
    // In order, no duplicates, ending with the last record.
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "out of order or duplicated");
    assert_eq!(seen.last(), Some(&(total - 1)));
    let missed = total - seen.len() as u64;
    eprintln!("reader of B lapped: read {} of {total} records, loss_count {}", seen.len(), qb.loss_count());
    assert!(missed > 0, "the reader was not lapped");
    assert_eq!(qb.loss_count(), missed, "reported loss vs records really missed");
    let _ = std::fs::remove_file(cfg);
}

/// A sender whose own cursor is lapped on its source ring (stopped with
/// SIGSTOP while the producer writes more than a ring): the sender and the
/// receiver both report exactly the elements that never arrived.
#[test]
fn bridge_loss_lapped_sender_cursor_counts_exactly() {
    if !in_private_netns("bridge_loss_lapped_sender_cursor_counts_exactly") {
        return;
    }
    let (_a, b, qa, send, recv, cfg) = pair("laps", 17503, 256, 65536);
    let qb = ByteQueue::open(b.as_str(), 16, &Options::new()).unwrap();
    let mut seq = 0u64;
    let burst = |n: u64, pace: bool, seq: &mut u64| {
        for _ in 0..n {
            push(&qa, *seq, 1);
            *seq += 1;
            if pace && (*seq).is_multiple_of(8) {
                thread::sleep(Duration::from_millis(1));
            }
        }
    };
    burst(200, true, &mut seq);
    wait_quiet(&qb, Duration::from_millis(300), Duration::from_secs(30));
    send.signal("-STOP");
    burst(1000, false, &mut seq); // four rings' worth while the sender is stopped
    send.signal("-CONT");
    thread::sleep(Duration::from_millis(300));
    burst(200, true, &mut seq);
    wait_quiet(&qb, Duration::from_millis(500), Duration::from_secs(30));
    let s = send.stop();
    let r = recv.stop();

    let got = read_all(&qb);
    let seqs: Vec<u64> = got.iter().map(|g| g.0).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "out of order or duplicated");
    assert_eq!(seqs.last(), Some(&(seq - 1)), "the last record arrived");
    let missing = seq - seqs.len() as u64;
    eprintln!(
        "sender lapped: {missing} of {seq} records never arrived; sender says lost={}, receiver says {r}",
        s["lost"]
    );
    assert!(missing >= 1000 - 256, "the sender was not lapped (missing {missing})");
    assert_eq!(s["lost"].as_u64(), Some(missing), "sender's reported loss; {s}");
    assert_eq!(r["lost_sender"].as_u64(), Some(missing), "receiver's view of the sender's loss; {r}");
    assert_eq!(r["lost_network"].as_u64(), Some(0), "{r}");
    assert_eq!(r["lost"].as_u64(), Some(missing), "{r}");
    assert_eq!(r["records"].as_u64(), Some(seqs.len() as u64), "{r}");
    // Catching up after SIGCONT, the sender packed waiting records together.
    assert!(s["messages"].as_u64() < s["records"].as_u64(), "no batching: {s}");
    let _ = std::fs::remove_file(cfg);
}

/// The default, lossy mode: while the receiver is stopped (SIGSTOP), the
/// socket buffers fill and Zenoh drops the sender's messages (congestion
/// control Drop) instead of blocking it; the receiver then reports as lost
/// exactly the elements that never arrived.
#[test]
fn bridge_loss_messages_dropped_under_congestion_are_counted_exactly() {
    if !in_private_netns("bridge_loss_messages_dropped_under_congestion_are_counted_exactly") {
        return;
    }
    let es = 1024usize;
    let (_a, b, qa, mut send, recv, cfg) = pair_with("drop", 17506, 32768, 1 << 17, es as u32, &[]);
    let qb = ByteQueue::open(b.as_str(), es as u32, &Options::new()).unwrap();
    let mut seq = 0u64;
    let burst = |n: u64, every: u64, seq: &mut u64| {
        for _ in 0..n {
            push(&qa, *seq, 1);
            *seq += 1;
            if (*seq).is_multiple_of(every) {
                thread::sleep(Duration::from_millis(1));
            }
        }
    };
    burst(100, 8, &mut seq);
    wait_quiet(&qb, Duration::from_millis(300), Duration::from_secs(30));
    recv.signal("-STOP");
    // 100 MB while the receiver reads nothing: more than the socket buffers hold.
    burst(100_000, 1000, &mut seq);
    let want = seq;
    send.wait_for(120, "every record published", |v| {
        v["records"].as_u64().unwrap_or(0) + v["lost"].as_u64().unwrap_or(0) >= want
    });
    recv.signal("-CONT");
    thread::sleep(Duration::from_millis(500));
    burst(200, 8, &mut seq);
    wait_quiet(&qb, Duration::from_millis(1000), Duration::from_secs(60));
    let s = send.stop();
    let r = recv.stop();

    let got = read_all(&qb);
    let seqs: Vec<u64> = got.iter().map(|g| g.0).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "out of order or duplicated");
    assert_eq!(seqs.last(), Some(&(seq - 1)), "the last record arrived");
    let missing = seq - seqs.len() as u64;
    eprintln!("congestion: {missing} of {seq} records never arrived; sender {s}; receiver {r}");
    assert!(r["lost_network"].as_u64() > Some(0), "nothing was dropped: the test did not congest the link; {r}");
    assert_eq!(r["lost"].as_u64(), Some(missing), "receiver's reported loss vs records really missing; {r}");
    assert_eq!(r["lost_network"].as_u64().zip(r["lost_sender"].as_u64()).map(|(n, l)| n + l), Some(missing), "{r}");
    assert_eq!(s["lost"].as_u64(), r["lost_sender"].as_u64(), "sender {s} vs receiver {r}");
    let _ = std::fs::remove_file(cfg);
}

/// A receiving queue of another element size: recv stops with a clear
/// error and writes nothing.
#[test]
fn bridge_mismatched_element_size_is_a_clear_error_and_nothing_is_written() {
    if !in_private_netns("bridge_mismatched_element_size_is_a_clear_error_and_nothing_is_written") {
        return;
    }
    let (a, b) = (Name::new("br_mis_a"), Name::new("br_mis_b"));
    let cfg = zenoh_config("mis");
    let qa = ByteQueue::create_or_open(a.as_str(), 1024, 16, &Options::new()).unwrap();
    let qb = ByteQueue::create_or_open(b.as_str(), 1024, 8, &Options::new()).unwrap();
    let ep = "tcp/127.0.0.1:17504";
    let recv = Bridge::recv("test/mis", b.as_str(), ("--listen", ep), &cfg, &[]);
    let mut send = Bridge::send(a.as_str(), "test/mis", ("--connect", ep), &cfg, &[]);
    send.wait_for(60, "matched: true", |v| v["matched"] == true);
    for seq in 0..10 {
        push(&qa, seq, 1);
    }
    let (code, err) = recv.exit(30);
    assert_eq!(code, Some(1), "recv should fail; stderr:\n{err}");
    assert!(
        err.contains(
            "element size mismatch: the sender's queue has 16-byte elements but the local queue has 8-byte elements"
        ),
        "stderr:\n{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(qb.initial_reading_index(), 0, "something was written into the receiving queue");
    assert!(read_all(&qb).is_empty());
    let _ = send.stop();
    let _ = std::fs::remove_file(cfg);
}

/// A producer thread writing paced 1-element records until stopped; returns
/// the number written.
fn paced_producer(qa: ByteQueue, stop: Arc<AtomicBool>, produced: Arc<AtomicU64>) -> thread::JoinHandle<ByteQueue> {
    thread::spawn(move || {
        let mut seq = 0;
        while !stop.load(Ordering::SeqCst) {
            push(&qa, seq, 1);
            seq += 1;
            produced.store(seq, Ordering::SeqCst);
            thread::sleep(Duration::from_micros(500));
        }
        qa
    })
}

/// Waits until queue B holds at least `n` more records than at `from`.
fn wait_growth(qb: &ByteQueue, from: u64, n: u64, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while qb.initial_reading_index() < from + n {
        assert!(Instant::now() < deadline, "queue B stopped growing at {}", qb.initial_reading_index());
        thread::sleep(Duration::from_millis(20));
    }
}

/// Restarting the receiver, then the sender, mid-stream: the stream resumes
/// each time, in order, with no duplicates, and ends with the last record.
#[test]
fn bridge_restart_of_either_side_resumes_without_duplicates() {
    if !in_private_netns("bridge_restart_of_either_side_resumes_without_duplicates") {
        return;
    }
    let (a, b) = (Name::new("br_rst_a"), Name::new("br_rst_b"));
    let cfg = zenoh_config("rst");
    let qa = ByteQueue::create_or_open(a.as_str(), 4096, 16, &Options::new()).unwrap();
    let ep = "tcp/127.0.0.1:17505";
    let recv_args = ["--create", "65536", "--element-size", "16"];
    // The sender listens, the receiver connects: a restarted receiver
    // reconnects at once, a restarted sender is reconnected to by Zenoh's
    // retry (configured to 100-500 ms).
    let recv = Bridge::recv("test/rst", b.as_str(), ("--connect", ep), &cfg, &recv_args);
    let mut send = Bridge::send(a.as_str(), "test/rst", ("--listen", ep), &cfg, &["--reliable"]);
    send.wait_for(60, "matched: true", |v| v["matched"] == true);
    let qb = ByteQueue::open(b.as_str(), 16, &Options::new()).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let produced = Arc::new(AtomicU64::new(0));
    let producer = paced_producer(qa, Arc::clone(&stop), Arc::clone(&produced));
    wait_growth(&qb, 0, 300, 60);

    // Receiver restart (into the same queue B).
    let r1 = recv.stop();
    assert_eq!(r1["lost"].as_u64(), Some(0), "{r1}");
    let at = qb.initial_reading_index();
    let recv = Bridge::recv("test/rst", b.as_str(), ("--connect", ep), &cfg, &recv_args);
    wait_growth(&qb, at, 300, 60);

    // Sender restart (from the live end of queue A).
    let _ = send.stop();
    let at = qb.initial_reading_index();
    let mut send = Bridge::send(a.as_str(), "test/rst", ("--listen", ep), &cfg, &["--reliable"]);
    send.wait_for(60, "matched: true", |v| v["matched"] == true);
    wait_growth(&qb, at, 300, 60);

    stop.store(true, Ordering::SeqCst);
    let _qa = producer.join().unwrap();
    let last = produced.load(Ordering::SeqCst) - 1;
    wait_quiet(&qb, Duration::from_millis(500), Duration::from_secs(30));
    let s = send.stop();
    let r2 = recv.stop();

    let seqs: Vec<u64> = read_all(&qb).iter().map(|g| g.0).collect();
    eprintln!("restarts: {} of {} records arrived, last {last}; final receiver status {r2}", seqs.len(), last + 1);
    let unique: HashSet<u64> = seqs.iter().copied().collect();
    assert_eq!(unique.len(), seqs.len(), "duplicated records");
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "out of order");
    assert_eq!(seqs.first(), Some(&0));
    assert_eq!(seqs.last(), Some(&last), "the stream did not resume to the end");
    assert_eq!(r2["senders"].as_u64(), Some(2), "the second receiver saw both sender runs: {r2}");
    assert_eq!(s["lost"].as_u64(), Some(0), "{s}");
    let _ = std::fs::remove_file(cfg);
}
