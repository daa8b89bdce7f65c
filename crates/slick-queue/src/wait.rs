//! Waiting for a record without burning a core.
//!
//! The queues' waits (`read_timeout`, `read_wait`, `wait_published`) spin
//! for [`SPIN_FOR`], then sleep on the queue's doorbell (see `doorbell.rs`
//! in the source): one of our producers wakes them within microseconds of a
//! publish, and every sleep is at most [`POLL_INTERVAL`] long, so a record
//! a producer that does not ring publishes (the C++ and original Python
//! peers) is seen at most that late.
//!
//! [`Backoff`] is the older spin-yield-sleep schedule, kept for callers
//! that poll something other than a queue.

use std::time::{Duration, Instant};

use crate::ring::Ring;

/// The longest a waiting reader sleeps without looking at the queue: the
/// bound on how late it sees a record published by a producer that does not
/// ring the doorbell (a C++ or original Python peer), and the wake-up rate
/// of an idle waiter.
pub const POLL_INTERVAL: Duration = Duration::from_millis(1);
/// The first nap of a reader that finds a record reserved but not yet
/// published (its producer is between `reserve` and `publish`); naps double
/// up to [`POLL_INTERVAL`].
pub const IN_FLIGHT_NAP: Duration = Duration::from_micros(20);

/// How long a wait spins (re-checking the queue between spin-loop hints)
/// before it starts yielding the CPU.
pub const SPIN_FOR: Duration = Duration::from_micros(20);
/// How long (from the start) a wait yields before it starts sleeping.
pub const YIELD_UNTIL: Duration = Duration::from_micros(200);
/// The longest single sleep: the worst extra latency a waiting reader adds
/// once a queue has been idle for a while.
pub const MAX_NAP: Duration = Duration::from_micros(500);

/// The spin-yield-sleep schedule of one wait: spin for [`SPIN_FOR`] (a
/// record usually arrives within microseconds on a busy queue), then
/// `sched_yield` until [`YIELD_UNTIL`], then sleep in naps doubling from
/// 20 us up to [`MAX_NAP`].
#[derive(Debug)]
pub struct Backoff {
    start: Instant,
    nap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new()
    }
}

impl Backoff {
    /// A fresh schedule (starts with spinning).
    pub fn new() -> Backoff {
        Backoff { start: Instant::now(), nap: Duration::from_micros(20) }
    }

    /// Waits one step, never past `deadline`. Returns `false` once the
    /// deadline has passed (nothing was waited).
    pub fn wait_until(&mut self, deadline: Instant) -> bool {
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        let waited = now - self.start;
        if waited < SPIN_FOR {
            for _ in 0..16 {
                std::hint::spin_loop();
            }
        } else if waited < YIELD_UNTIL {
            std::thread::yield_now();
        } else {
            std::thread::sleep(self.nap.min(deadline - now));
            self.nap = (self.nap * 2).min(MAX_NAP);
        }
        true
    }
}

/// `now + timeout`, saturating far in the future for huge timeouts.
pub(crate) fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout).unwrap_or_else(|| now + Duration::from_secs(86_400 * 365))
}

/// Where a wait stops.
pub(crate) enum Until<'a> {
    /// A record arrived, or the deadline (if any) passed.
    Record(Option<Instant>),
    /// As `Record`, and also when the doorbell rings, or `stop` says so
    /// (checked after every wake-up).
    Ring(Option<Instant>, &'a dyn Fn() -> bool),
}

/// The wait of every blocking read: `attempt` until it yields, spinning for
/// [`SPIN_FOR`], then sleeping on the doorbell (register, re-check, sleep;
/// see `doorbell.rs`). `position` is where the caller waits for a record
/// (its cursor): a reservation past it means a record is in flight.
pub(crate) fn wait_for<T>(
    ring: &Ring,
    until: Until<'_>,
    mut attempt: impl FnMut() -> Option<T>,
    position: impl Fn() -> u64,
) -> Option<T> {
    let (deadline, on_ring) = match until {
        Until::Record(d) => (d, None),
        Until::Ring(d, stop) => (d, Some(stop)),
    };
    if let Some(v) = attempt() {
        return Some(v);
    }
    let start = Instant::now();
    // (loom: no spinning on real time; straight to the doorbell.)
    while cfg!(not(loom)) {
        for _ in 0..16 {
            std::hint::spin_loop();
        }
        if let Some(v) = attempt() {
            return Some(v);
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            return None;
        }
        if now - start >= SPIN_FOR {
            break;
        }
    }
    let interval = ring.poll_interval();
    let nap_cap = interval.min(POLL_INTERVAL);
    let mut nap = IN_FLIGHT_NAP.min(nap_cap);
    loop {
        let left = match deadline {
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => Some(left),
                _ => return attempt(),
            },
            None => None,
        };
        let Some(bell) = ring.bell() else {
            std::thread::sleep(left.map_or(interval, |l| l.min(interval)));
            if let Some(v) = attempt() {
                return Some(v);
            }
            if on_ring.is_some_and(|stop| stop()) {
                return None;
            }
            continue;
        };
        let ticket = bell.register();
        if let Some(v) = attempt() {
            return Some(v);
        }
        // A stop condition is checked after the snapshot of the ring
        // counter, like the queue: a `wake_waiters` that came before the
        // snapshot is seen here, one after it ends the sleep.
        if on_ring.is_some_and(|stop| stop()) {
            return None;
        }
        let in_flight = ring.reserved_past(position());
        let slice = if in_flight {
            let n = nap;
            nap = (nap * 2).min(nap_cap);
            n
        } else {
            nap = IN_FLIGHT_NAP.min(nap_cap);
            interval
        };
        // (loom has no timed sleep: a record in flight is waited for by
        // yielding to its producer.)
        #[cfg(loom)]
        let _ = slice;
        #[cfg(loom)]
        let rang = if in_flight {
            loom::thread::yield_now();
            false
        } else {
            ticket.sleep(None)
        };
        #[cfg(not(loom))]
        let rang = ticket.sleep(Some(left.map_or(slice, |l| l.min(slice))));
        drop(ticket);
        if let Some(v) = attempt() {
            return Some(v);
        }
        if let Some(stop) = on_ring {
            if rang || stop() {
                return None;
            }
        }
    }
}
