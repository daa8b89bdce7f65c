//! What every run shares (`docs/spec/BENCH_PROTOCOL.md`): the spin-wait, pinning, the
//! flow-control window over a cache-line-aligned `consumed` counter, the
//! start signal, and the result record printed for the driver.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

/// Queue capacity of every throughput run (2^16).
pub const SIZE: u64 = 1 << 16;

/// Pads and aligns a value to its own pair of cache lines.
#[repr(C, align(128))]
pub struct Padded<T>(pub T);

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// Up to 1024 `spin_loop` hints, then `sched_yield` per retry. A wait that
/// has been yielding for [`STALL`] fails the run (a peer process died, or a
/// record was lost): a benchmark must never hang.
pub struct Spin {
    spins: u32,
    yielding_since: Option<Instant>,
}

pub const STALL: Duration = Duration::from_secs(30);

impl Default for Spin {
    fn default() -> Self {
        Spin::new()
    }
}

impl Spin {
    pub fn new() -> Spin {
        Spin { spins: 0, yielding_since: None }
    }
    #[inline]
    pub fn wait(&mut self) {
        if self.spins < 1024 {
            self.spins += 1;
            std::hint::spin_loop();
        } else {
            self.slow();
        }
    }
    #[cold]
    fn slow(&mut self) {
        std::thread::yield_now();
        match self.yielding_since {
            None => self.yielding_since = Some(Instant::now()),
            Some(t) if t.elapsed() > STALL => fail("no progress for 30 s (stalled)"),
            Some(_) => {}
        }
    }
    #[inline]
    pub fn reset(&mut self) {
        self.spins = 0;
        self.yielding_since = None;
    }
}

/// Pins the calling thread to `cpu` (no-op when `cpu` is `None`, or the
/// machine has fewer CPUs).
pub fn pin(cpu: Option<usize>) {
    if let Some(id) = cpu {
        if let Some(ids) = core_affinity::get_core_ids() {
            if let Some(core) = ids.into_iter().find(|c| c.id == id) {
                core_affinity::set_for_current(core);
            }
        }
    }
}

pub const PRODUCER_CPU: Option<usize> = Some(0);
pub const CONSUMER_CPU: Option<usize> = Some(1);

/// The producer's side of the flow control: before each reservation of `k`
/// elements, `last + k - consumed` (signed) must stay below `size / 2`. The
/// `consumed` value is cached and reloaded only when the window looks full.
pub struct Window<'a> {
    consumed: &'a AtomicU64,
    cached: u64,
    half: i64,
}

impl<'a> Window<'a> {
    pub fn new(consumed: &'a AtomicU64, size: u64) -> Window<'a> {
        Window { consumed, cached: 0, half: (size / 2) as i64 }
    }

    /// Waits until a reservation of `k` after the producer's last index
    /// `last` fits in the window.
    #[inline]
    pub fn wait(&mut self, last: u64, k: u64) {
        let end = last.wrapping_add(k);
        if (end.wrapping_sub(self.cached) as i64) < self.half {
            return;
        }
        let mut spin = Spin::new();
        loop {
            self.cached = self.consumed.load(Ordering::Acquire);
            if (end.wrapping_sub(self.cached) as i64) < self.half {
                return;
            }
            spin.wait();
        }
    }
}

/// The consumer's side: its next cursor, release-stored after every read.
#[inline]
pub fn mark_consumed(consumed: &AtomicU64, next: u64) {
    consumed.store(next, Ordering::Release);
}

/// Waits for the start signal (a non-zero word).
pub fn wait_go(go: &AtomicU64) {
    let mut spin = Spin::new();
    while go.load(Ordering::Acquire) == 0 {
        spin.wait();
    }
}

/// Checks that each producer's sequence numbers arrive contiguous: any gap,
/// duplicate or reordering fails the run.
pub struct SeqCheck {
    next: Vec<u64>,
}

/// Values carry the producer number in their top byte.
pub const PRODUCER_SHIFT: u32 = 56;

pub fn tag(producer: usize, seq: u64) -> u64 {
    ((producer as u64) << PRODUCER_SHIFT) | seq
}

impl SeqCheck {
    pub fn new(producers: usize) -> SeqCheck {
        SeqCheck { next: vec![0; producers] }
    }

    #[inline]
    pub fn check(&mut self, v: u64) {
        let p = (v >> PRODUCER_SHIFT) as usize;
        let seq = v & ((1 << PRODUCER_SHIFT) - 1);
        match self.next.get_mut(p) {
            Some(next) if *next == seq => *next += 1,
            Some(next) => fail(&format!("producer {p}: expected sequence {}, got {seq}", *next)),
            None => fail(&format!("value {v:#x} names no producer")),
        }
    }

    pub fn total(&self) -> u64 {
        self.next.iter().sum()
    }
}

/// Ends the process with a failure (a broken run must never produce a figure).
pub fn fail(msg: &str) -> ! {
    eprintln!("slick-bench: FAILED: {msg}");
    std::process::exit(2)
}

/// `result.or_fail("what")`: the value, or a clear one-line failure and
/// exit status 2 (never a panic), naming what could not be done.
pub trait OrFail<T> {
    fn or_fail(self, what: &str) -> T;
}

impl<T, E: std::fmt::Display> OrFail<T> for Result<T, E> {
    fn or_fail(self, what: &str) -> T {
        self.unwrap_or_else(|e| fail(&format!("{what}: {e}")))
    }
}

/// One measurement, printed as a `RESULT {json}` line for the driver.
#[derive(Serialize, Default)]
pub struct Outcome {
    pub run: String,
    #[serde(rename = "impl")]
    pub imp: String,
    pub count: u64,
    pub secs: f64,
    /// Throughput runs: items per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msgs_per_sec: Option<f64>,
    /// Step-cost runs: nanoseconds per step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ns_per_step: Option<f64>,
    /// Latency runs: round-trip percentiles in nanoseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ns: Option<Latency>,
    /// What was measured, in words (element type, options).
    pub note: String,
}

#[derive(Serialize, Default)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
    /// (percentile, nanoseconds) pairs for the percentile plot.
    pub curve: Vec<(f64, f64)>,
}

impl Outcome {
    pub fn throughput(run: &str, imp: &str, count: u64, elapsed: Duration, note: &str) -> Outcome {
        let secs = elapsed.as_secs_f64();
        Outcome {
            run: run.into(),
            imp: imp.into(),
            count,
            secs,
            msgs_per_sec: Some(count as f64 / secs),
            note: note.into(),
            ..Default::default()
        }
    }

    pub fn print(&self) {
        println!("RESULT {}", serde_json::to_string(self).or_fail("serializable"));
    }
}

/// Percentiles of a histogram of nanoseconds.
pub fn latency(h: &hdrhistogram::Histogram<u64>) -> Latency {
    let q = |p: f64| h.value_at_quantile(p) as f64;
    let mut curve = Vec::new();
    // 0, 50, 75, 87.5, ... up to 99.999 (the classic HdrHistogram x axis).
    let mut tail = 1.0f64;
    while tail > 1e-5 {
        let p = 1.0 - tail;
        curve.push((p * 100.0, q(p)));
        tail /= 2.0;
    }
    for p in [0.99, 0.999, 0.9999, 0.99999] {
        curve.push((p * 100.0, q(p)));
    }
    curve.sort_by(|a, b| a.0.total_cmp(&b.0));
    curve.dedup_by(|a, b| (a.0 - b.0).abs() < 1e-9);
    Latency { p50: q(0.5), p90: q(0.9), p99: q(0.99), p999: q(0.999), max: h.max() as f64, mean: h.mean(), curve }
}
