//! Waiting for a record without burning a core: spin briefly (a record
//! usually arrives within microseconds on a busy queue), then yield the CPU,
//! then sleep in short, growing naps capped at [`MAX_NAP`].

use std::time::{Duration, Instant};

/// Spin-loop hints issued before the first yield.
const SPINS: u32 = 128;
/// `sched_yield` calls before the first sleep.
const YIELDS: u32 = 32;
/// The longest single sleep: the worst extra latency a waiting reader adds
/// once a queue has been idle for a while.
pub const MAX_NAP: Duration = Duration::from_micros(500);

/// The spin-yield-sleep schedule of one wait.
#[derive(Debug)]
pub struct Backoff {
    step: u32,
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
        Backoff { step: 0, nap: Duration::from_micros(20) }
    }

    /// Waits one step, never past `deadline`. Returns `false` once the
    /// deadline has passed (nothing was waited).
    pub fn wait_until(&mut self, deadline: Instant) -> bool {
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        if self.step < SPINS {
            std::hint::spin_loop();
        } else if self.step < SPINS + YIELDS {
            std::thread::yield_now();
        } else {
            std::thread::sleep(self.nap.min(deadline - now));
            self.nap = (self.nap * 2).min(MAX_NAP);
        }
        self.step = self.step.saturating_add(1);
        true
    }
}

/// `now + timeout`, saturating far in the future for huge timeouts.
pub(crate) fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout).unwrap_or_else(|| now + Duration::from_secs(86_400 * 365))
}
