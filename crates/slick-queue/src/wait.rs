//! Waiting for a record without burning a core: spin briefly, then yield
//! the CPU, then sleep in short, growing naps capped at [`MAX_NAP`].

use std::time::{Duration, Instant};

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
