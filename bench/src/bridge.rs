//! Runs z32, z1024 (throughput) and zlat (one-way latency): a queue bridged
//! over Zenoh (`slick-queue-zenoh`: producer -> queue A -> Sender -> Zenoh
//! -> Receiver -> queue B -> consumer) next to raw Zenoh publish/subscribe
//! of the same payloads (publisher -> Zenoh -> subscriber callback).
//!
//! Both use two Zenoh sessions in this process connected over TCP on
//! 127.0.0.1 (one listens, one connects), multicast scouting and gossip off.
//! The process must run in a private network namespace with only `lo`
//! ([`ensure_private_netns`] re-executes it under `unshare -n` as root):
//! nothing can leave the machine.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use slick_queue::ByteQueue;
use slick_queue_zenoh::zenoh::qos::CongestionControl;
use slick_queue_zenoh::zenoh::{self, Wait};
use slick_queue_zenoh::{IdleWait, Network, Receiver, Sender, SenderOptions};

use crate::common::*;

const INNER: &str = "SLICK_BENCH_NETNS";

fn interfaces() -> Vec<String> {
    let dev = std::fs::read_to_string("/proc/self/net/dev").unwrap_or_default();
    dev.lines().skip(2).filter_map(|l| l.split(':').next()).map(|s| s.trim().to_owned()).collect()
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false)
}

/// Whether the bridge runs can run here: in a private network namespace
/// already, or as root (they re-execute themselves in one).
pub fn available() -> Result<(), &'static str> {
    if interfaces() == ["lo"] || is_root() {
        Ok(())
    } else {
        Err("needs root, to run in a private network namespace (unshare -n)")
    }
}

/// Continues only inside a private network namespace with only `lo` up;
/// otherwise re-runs this command in one (`unshare -n`) and exits with its
/// status.
pub fn ensure_private_netns() {
    if interfaces() == ["lo"] {
        return;
    }
    if std::env::var_os(INNER).is_some() {
        fail(&format!("the private network namespace has interfaces {:?}", interfaces()));
    }
    let exe = std::env::current_exe().or_fail("current_exe");
    let status = std::process::Command::new("unshare")
        .args(["-n", "sh", "-c", r#"ip link set lo up && exec "$0" "$@""#])
        .arg(exe)
        .args(std::env::args().skip(1))
        .env(INNER, "1")
        .status()
        .or_fail("cannot run unshare -n (root, util-linux and iproute2 needed)");
    std::process::exit(status.code().unwrap_or(1));
}

/// Two sessions connected over TCP on 127.0.0.1: (listening, connecting).
fn sessions() -> (zenoh::Session, zenoh::Session) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").or_fail("bind").local_addr().or_fail("addr").port();
    let ep = format!("tcp/127.0.0.1:{port}");
    let a = Network { listen: vec![ep.clone()], ..Network::default() }.open().or_fail("zenoh session A");
    let b = Network { connect: vec![ep], ..Network::default() }.open().or_fail("zenoh session B");
    (a, b)
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        if Instant::now() > deadline {
            fail(&format!("timed out waiting for {what}"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn seq_of(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[0..8]);
    u64::from_le_bytes(w)
}

fn payload(seq: u64, stamp: u64, size: usize) -> Vec<u8> {
    let mut v = vec![0u8; size];
    v[0..8].copy_from_slice(&seq.to_le_bytes());
    v[8..16].copy_from_slice(&stamp.to_le_bytes());
    v
}

/// What a throughput cell measured.
pub struct Xput {
    pub elapsed: Duration,
    pub received: u64,
    pub lost: u64,
}

/// Raw Zenoh: `count` puts of `size` bytes (congestion control Block,
/// Zenoh's own batching), counted by a subscriber callback.
pub fn raw_xput(count: u64, size: usize) -> Xput {
    let (sa, sb) = sessions();
    let got = Arc::new(AtomicU64::new(0));
    let lost = Arc::new(AtomicU64::new(0));
    let last = Arc::new(Mutex::new(None::<Instant>));
    let (g, l, t) = (Arc::clone(&got), Arc::clone(&lost), Arc::clone(&last));
    let next = AtomicU64::new(0);
    let _sub = sb
        .declare_subscriber("bench/raw")
        .callback(move |s| {
            let seq = seq_of(&s.payload().to_bytes());
            let want = next.swap(seq + 1, Ordering::Relaxed);
            l.fetch_add(seq.saturating_sub(want), Ordering::Relaxed);
            if g.fetch_add(1, Ordering::Relaxed) + 1 + l.load(Ordering::Relaxed) >= count {
                *t.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
            }
        })
        .wait()
        .or_fail("subscriber");
    let publisher =
        sa.declare_publisher("bench/raw").congestion_control(CongestionControl::Block).wait().or_fail("publisher");
    wait_until("a matching subscriber", || publisher.matching_status().wait().map(|m| m.matching()).unwrap_or(false));
    std::thread::sleep(Duration::from_millis(200));
    let start = Instant::now();
    for seq in 0..count {
        publisher.put(payload(seq, 0, size)).wait().or_fail("put");
    }
    wait_until("the last message", || last.lock().unwrap_or_else(|p| p.into_inner()).is_some());
    let end = last.lock().unwrap_or_else(|p| p.into_inner()).unwrap_or_else(|| fail("no end time"));
    Xput { elapsed: end - start, received: got.load(Ordering::Relaxed), lost: lost.load(Ordering::Relaxed) }
}

/// Queues A and B of a bridge cell in shared memory (names unique to this
/// process, removed when dropped): the producer and the Sender each open A.
struct Shm(Vec<String>);

impl Shm {
    fn queue(&mut self, tag: &str, cap: u32, size: usize) -> ByteQueue {
        let name = format!("slick_bench_z{}_{tag}", std::process::id());
        let _ = slick_queue::remove(&name);
        let q = ByteQueue::create_or_open(&name, cap, size as u32, &slick_queue::Options::new()).or_fail("queue");
        self.0.push(name);
        q
    }
}

impl Drop for Shm {
    fn drop(&mut self) {
        for n in &self.0 {
            let _ = slick_queue::remove(n);
        }
    }
}

fn push(q: &ByteQueue, seq: u64, stamp: u64, size: usize) {
    q.push(&payload(seq, stamp, size)).or_fail("push");
}

/// A bridge ready to run: queue A (producer's handle), the Sender, the
/// Receiver writing into queue B.
struct Bridged {
    _shm: Shm,
    _sessions: (zenoh::Session, zenoh::Session),
    producer: ByteQueue,
    sender: Sender,
    receiver: Receiver,
}

fn bridged(size: usize, reliable: bool, idle: IdleWait) -> Bridged {
    let cap = 1u32 << 16;
    let (sa, sb) = sessions();
    let mut shm = Shm(Vec::new());
    let producer = shm.queue("a", cap, size);
    let qa = ByteQueue::open(&shm.0[0], size as u32, &slick_queue::Options::new()).or_fail("queue A");
    let qb = shm.queue("b", cap, size);
    let receiver = Receiver::new(&sb, "bench/bridge", qb).or_fail("receiver");
    let mut opts = SenderOptions::new("bench/bridge");
    opts.reliable = reliable;
    opts.idle = idle;
    let mut sender = Sender::new(&sa, qa, &opts).or_fail("sender");
    wait_until("a matching subscriber", || sender.refresh_matching().unwrap_or(false));
    std::thread::sleep(Duration::from_millis(200));
    Bridged { _shm: shm, _sessions: (sa, sb), producer, sender, receiver }
}

/// The bridge: a producer pushes `count` records of `size` bytes into
/// queue A (kept at most half a ring ahead of the consumer); the Sender
/// (reliable, i.e. Block, like the raw run) publishes them, several per
/// message when it is behind; the Receiver writes them into queue B; a
/// consumer thread reads B and checks the sequence.
pub fn bridge_xput(count: u64, size: usize) -> Xput {
    let Bridged { _shm, _sessions, producer, mut sender, receiver } = bridged(size, true, IdleWait::Backoff);
    let half = u64::from(producer.capacity() / 2);
    let stop = AtomicBool::new(false);
    let consumed = AtomicU64::new(0);
    let mut cursor_b = receiver.queue().initial_reading_index();
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                sender.poll(Duration::from_millis(5)).or_fail("sender poll");
            }
        });
        let consumer = s.spawn(|| {
            let q = receiver.queue();
            let (mut got, mut lost, mut next) = (0u64, 0u64, 0u64);
            let deadline = Instant::now() + Duration::from_secs(300);
            let mut head = vec![0u8; size];
            while got + lost < count {
                match q.read(&mut cursor_b) {
                    Some(r) => {
                        r.copy_to(&mut head);
                        let seq = seq_of(&head);
                        lost += seq.saturating_sub(next);
                        next = seq + 1;
                        got += 1;
                        consumed.store(got + lost, Ordering::Release);
                    }
                    None => {
                        if Instant::now() > deadline {
                            fail("bridge consumer timed out");
                        }
                        std::thread::yield_now();
                    }
                }
            }
            (Instant::now(), got, lost)
        });
        let start = Instant::now();
        for seq in 0..count {
            while seq - consumed.load(Ordering::Acquire).min(seq) >= half {
                std::thread::yield_now();
            }
            push(&producer, seq, 0, size);
        }
        let (end, got, lost) = consumer.join().unwrap_or_else(|_| fail("consumer thread panicked"));
        stop.store(true, Ordering::Relaxed);
        Xput { elapsed: end - start, received: got, lost }
    })
}

/// Nanoseconds since `origin`.
fn stamp(origin: Instant) -> u64 {
    origin.elapsed().as_nanos() as u64
}

fn histogram() -> hdrhistogram::Histogram<u64> {
    hdrhistogram::Histogram::new_with_bounds(1, 10_000_000_000, 3).or_fail("histogram")
}

/// Pacing of the latency runs: one message every `GAP` (so each one
/// travels alone through an idle path, the one-way latency).
const GAP: Duration = Duration::from_micros(200);

fn pace(next: &mut Instant) {
    *next += GAP;
    let now = Instant::now();
    if *next > now {
        std::thread::sleep(*next - now);
    } else {
        *next = now;
    }
}

/// Raw Zenoh one-way latency: `count` paced 32-byte puts (express, Block),
/// each stamped; the subscriber callback records arrival - stamp.
pub fn raw_latency(count: u64) -> hdrhistogram::Histogram<u64> {
    let (sa, sb) = sessions();
    let origin = Instant::now();
    let h = Arc::new(Mutex::new(histogram()));
    let done = Arc::new(AtomicU64::new(0));
    let (h2, d2) = (Arc::clone(&h), Arc::clone(&done));
    let _sub = sb
        .declare_subscriber("bench/rawlat")
        .callback(move |s| {
            let now = stamp(origin);
            let b = s.payload().to_bytes();
            let sent = seq_of(&b[8..16]);
            let _ = h2.lock().unwrap_or_else(|p| p.into_inner()).record(now.saturating_sub(sent).max(1));
            d2.fetch_add(1, Ordering::Release);
        })
        .wait()
        .or_fail("subscriber");
    let publisher = sa
        .declare_publisher("bench/rawlat")
        .congestion_control(CongestionControl::Block)
        .express(true)
        .wait()
        .or_fail("publisher");
    wait_until("a matching subscriber", || publisher.matching_status().wait().map(|m| m.matching()).unwrap_or(false));
    std::thread::sleep(Duration::from_millis(200));
    let warm = count / 10;
    let mut next = Instant::now();
    for seq in 0..warm + count {
        if seq == warm {
            wait_until("the warm-up messages", || done.load(Ordering::Acquire) >= warm);
            h.lock().unwrap_or_else(|p| p.into_inner()).reset();
        }
        publisher.put(payload(seq, stamp(origin), 32)).wait().or_fail("put");
        pace(&mut next);
    }
    wait_until("the last message", || done.load(Ordering::Acquire) >= warm + count);
    let out = h.lock().unwrap_or_else(|p| p.into_inner()).clone();
    out
}

/// Bridged one-way latency: `count` paced 32-byte records pushed into queue
/// A, each stamped; a consumer thread polling queue B records arrival -
/// stamp. The Sender busy-polls (`--busy-poll`), like the consumer.
pub fn bridge_latency(count: u64) -> hdrhistogram::Histogram<u64> {
    let Bridged { _shm, _sessions, producer, mut sender, receiver } = bridged(32, true, IdleWait::BusyPoll);
    let origin = Instant::now();
    let stop = AtomicBool::new(false);
    let warm = count / 10;
    let done = AtomicU64::new(0);
    let mut cursor_b = receiver.queue().initial_reading_index();
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                sender.poll(Duration::from_millis(5)).or_fail("sender poll");
            }
        });
        let consumer = s.spawn(|| {
            let q = receiver.queue();
            let mut h = histogram();
            let mut got = 0u64;
            let mut b = [0u8; 32];
            let deadline = Instant::now() + Duration::from_secs(300);
            while got < warm + count {
                match q.read(&mut cursor_b) {
                    Some(r) => {
                        let now = stamp(origin);
                        r.copy_to(&mut b);
                        if got == warm {
                            h.reset();
                        }
                        let _ = h.record(now.saturating_sub(seq_of(&b[8..16])).max(1));
                        got += 1;
                        done.store(got, Ordering::Release);
                    }
                    None => {
                        if Instant::now() > deadline {
                            fail("bridge latency consumer timed out (records lost?)");
                        }
                        std::thread::yield_now();
                    }
                }
            }
            h
        });
        let mut next = Instant::now();
        for seq in 0..warm + count {
            push(&producer, seq, stamp(origin), 32);
            pace(&mut next);
        }
        let h = consumer.join().unwrap_or_else(|_| fail("consumer thread panicked"));
        stop.store(true, Ordering::Relaxed);
        h
    })
}
