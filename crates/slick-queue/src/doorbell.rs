//! The doorbell: how an idle reader sleeps without burning a core and wakes
//! within microseconds of a publish by one of our producers.
//!
//! A doorbell is two 32-bit words beside a queue (never inside its segment:
//! the wire format is untouched and peers never look at it):
//!
//! * `seq`, the **ring counter** and futex word: a producer that rings bumps
//!   it and wakes every sleeper;
//! * `waiters`, the **count of registered sleepers**, on a cache-line pair of
//!   its own that readers write only when they go to sleep and wake up.
//!
//! A shared queue's doorbell is its own small shared-memory object,
//! `<queue name>.doorbell` ([`doorbell_name`]), created by the first handle
//! of ours that attaches and unlinked with the queue by [`crate::remove`].
//! A local queue's doorbell is a heap block.
//!
//! # The handshake
//!
//! Producer, after publishing a record (`publish` in `ring.rs`):
//!
//! * P1: the reservation of the record, a `SeqCst` read-modify-write of the
//!   reservation word `R` (a `lock`ed instruction the reservation needs
//!   anyway; `SeqCst` costs nothing over `AcqRel` for a read-modify-write);
//! * the `Release` store of the slot's `data_index` (the publish);
//! * P2: one `SeqCst` load of `waiters` (a plain `mov` on x86-64). Only if it
//!   is non-zero: bump `seq` (`Release`) and `futex_wake` all (out of line).
//!
//! Reader, after a short spin found nothing:
//!
//! * W1: `waiters += 1` (`SeqCst`), then `s = seq` (`Acquire`);
//! * re-check the queue at its cursor (`Acquire` loads, as any read);
//! * W2: a `SeqCst` load of `R`: if a record at or past the cursor is
//!   reserved, it is in flight and the reader naps briefly instead;
//! * otherwise `futex_wait(seq, s, interval)`; then `waiters -= 1`.
//!
//! **No lost wake-up.** P1, P2, W1 and W2 are `SeqCst`, so they have one
//! total order S, with P1 before P2 and W1 before W2. Either P2 comes before
//! W1 in S: then P1 precedes W2, W2 reads P1's reservation (or a later one),
//! and the reader does not sleep on the futex. Or W1 comes before P2: then P2
//! reads the reader's registration and the producer rings. If the reader's
//! `s = seq` already read the bump, it synchronizes with the producer, whose
//! publish then happens-before the re-check, which finds the record. If not,
//! `s` is stale: `futex_wait` compares `seq` with `s` atomically with
//! respect to `futex_wake`, so it either returns at once or is woken.
//!
//! **The bounded interval.** A C++ or original-Python producer never rings,
//! so a sleep is never longer than [`crate::wait::POLL_INTERVAL`]: a record
//! such a peer publishes is seen at most that late. The interval is also the
//! backstop for everything the handshake does not cover: a doorbell that
//! could not be created (permissions, a name too long, a platform without
//! futexes), and a `waiters` count left too high by a reader that died
//! asleep (see below).
//!
//! **Cost when nobody sleeps.** One load of a line nobody writes, and a
//! predicted branch: no system call, no locked instruction.
//!
//! **The exclusive producer** (`ring/producer.rs`) reserves with a plain
//! store: P1 is not a `SeqCst` read-modify-write, and on x86-64 its stores
//! may still sit in the store buffer when its P2 load reads `waiters == 0`
//! (a lost wake-up: measured, about one run in ten of the tight
//! publish/sleep race test without what follows). Instead of a fence on
//! every publish, the two sides use an asymmetric barrier: the producer
//! puts a compiler barrier between its publish and P2
//! (`sync::light_barrier`, no instruction), and a reader, after W1 and
//! before W2, calls `membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED)`, which
//! makes every CPU running a thread of a registered process execute a full
//! barrier before it returns. Either that barrier comes after the
//! producer's P2 in its program order (then the stores before P2 are
//! visible to W2), or before it (then P2 comes after W1's store is visible
//! and reads the registration). The producer's process registers once
//! (`MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED`) and counts itself in the
//! doorbell's `exclusive` word, so readers pay the system call (about a
//! microsecond) only before sleeping, and only while an exclusive producer
//! is attached. Where the kernel refuses either call (before Linux 4.16, a
//! sandbox), the producer is not counted and the bounded interval covers
//! the race. A count left by an exclusive producer that died only makes
//! readers issue the call needlessly. loom has no such call: there both
//! sides are `SeqCst` fences,
//! and the model `doorbell_no_lost_wakeup_exclusive_producer` deadlocks
//! without them.
//!
//! **A reader that dies asleep** (`kill -9`, a Ctrl-C that ends a process)
//! leaves `waiters` one too high: producers then ring on every publish (a
//! `futex_wake` that wakes nobody). A producer that rings [`STALE_RINGS`]
//! times in a row without waking anybody resets the count to 0. That is safe
//! even when a live reader was registered at that moment: it only loses the
//! early wake-up for one sleep, and the interval bounds that.
//!
//! # Platforms
//!
//! Linux: a shared futex on the mapped word (a local queue's doorbell uses
//! a private futex). Elsewhere the doorbell object is not created and a
//! waiting reader polls on the bounded interval; `waiters` stays 0, so
//! producers never ring. The loom build (`--cfg loom`) replaces the futex
//! with a mutex and a condition variable that behave like one (see
//! `tests/loom.rs`).

use std::time::Duration;

use crate::region::BellMemory;
use crate::sync::{seqcst_point, Ordering};

/// Rings in a row that woke nobody after which a producer resets a stale
/// `waiters` count (left by a reader that died asleep).
pub const STALE_RINGS: u32 = 64;

/// The suffix of a doorbell object's name: `<queue>.doorbell`.
pub const DOORBELL_SUFFIX: &str = ".doorbell";

/// Length of a doorbell object in bytes.
pub const DOORBELL_LEN: u64 = crate::region::BELL_LEN as u64;

/// Offset of the waiter count in a doorbell object (a native-endian `u32`).
pub const DOORBELL_WAITERS_OFFSET: u64 = crate::region::BELL_WAITERS as u64;

/// Offset of a doorbell object's identification word ([`DOORBELL_MAGIC`]).
pub const DOORBELL_MAGIC_OFFSET: u64 = crate::region::BELL_MAGIC as u64;

/// The identification word a doorbell object's creator writes at
/// [`DOORBELL_MAGIC_OFFSET`] (native-endian; the bytes `SLQBELL1` on
/// little-endian machines). An object of that name without it (say, a
/// user's own queue that happens to be called `<name>.doorbell`) is never
/// used as a doorbell: nothing is ever written into it.
pub const DOORBELL_MAGIC: u64 = u64::from_le_bytes(*b"SLQBELL1");

/// The doorbell object name of the queue `name` (bare, without the leading
/// `/`), e.g. `orders.doorbell` for `orders`.
pub fn doorbell_name(queue: &str) -> String {
    let bare = queue.strip_prefix('/').unwrap_or(queue);
    format!("{bare}{DOORBELL_SUFFIX}")
}

/// The doorbell of one queue handle.
pub(crate) struct Doorbell {
    mem: BellMemory,
    /// `false` for the stand-in of a handle without a doorbell: its words
    /// are private and never registered on, so producers' checks stay one
    /// load (no `Option` test on the publish path) and never ring.
    enabled: bool,
    /// A heap doorbell (private futex) or a shared object (shared futex).
    #[cfg_attr(any(loom, not(target_os = "linux")), allow(dead_code))]
    private: bool,
    /// This process's side state, in an allocation of its own (the ring
    /// keeps no interior mutability inline).
    side: Box<Side>,
    /// Whether this handle counted itself in the exclusive-producer word
    /// (see [`Doorbell::claim_exclusive_producer`]); uncounted on drop.
    counted_exclusive: bool,
}

struct Side {
    /// Consecutive rings that woke nobody.
    empty_rings: crate::sync::AtomicU32,
    #[cfg(loom)]
    lock: loom::sync::Mutex<()>,
    #[cfg(loom)]
    cond: loom::sync::Condvar,
}

impl Side {
    fn new() -> Box<Side> {
        Box::new(Side {
            empty_rings: crate::sync::AtomicU32::new(0),
            #[cfg(loom)]
            lock: loom::sync::Mutex::new(()),
            #[cfg(loom)]
            cond: loom::sync::Condvar::new(),
        })
    }
}

impl Doorbell {
    /// A doorbell on the heap, for a local queue.
    pub fn local() -> Doorbell {
        Doorbell { mem: BellMemory::local(), enabled: true, private: true, side: Side::new(), counted_exclusive: false }
    }

    /// The stand-in of a handle without a doorbell (see `enabled`).
    pub fn disabled() -> Doorbell {
        Doorbell {
            mem: BellMemory::local(),
            enabled: false,
            private: true,
            side: Side::new(),
            counted_exclusive: false,
        }
    }

    /// Whether this is a real doorbell (not the stand-in).
    #[inline]
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Creates or opens the doorbell object of the shared queue `queue`.
    /// `None` when it cannot be had (a name too long for the suffix, no
    /// permission, ...): readers then poll on the bounded interval, which is
    /// correct, only slower to wake.
    #[cfg(all(target_os = "linux", not(loom)))]
    pub fn attach(queue: &crate::shm::ShmName, mode: u32, allow_foreign_owner: bool) -> Option<Doorbell> {
        use crate::shm::{self, unix};
        let name = shm::ShmName::new(&doorbell_name(queue.bare())).ok()?;
        // The same hardened open path as the queue's segment: `O_NOFOLLOW`
        // and an `fstat` regular-file check (a link, FIFO or device planted
        // under the name is refused), and the owner check of `open_rw`.
        let (fd, created) = match unix::create_exclusive(&name, mode).ok()? {
            Some(fd) => {
                if unix::allocate(&fd, DOORBELL_LEN, &name).is_err() {
                    let _ = unix::unlink(&name);
                    return None;
                }
                (fd, true)
            }
            None => (unix::open_rw(&name, allow_foreign_owner).ok()?, false),
        };
        // A creator sizes the object and writes the identification word
        // right after creating it: give it a moment (20 ms at most). Anything
        // else (another length, no word) is not a doorbell and is left alone.
        let mut tries = 0;
        let mut wait = || {
            tries += 1;
            std::thread::sleep(Duration::from_micros(200));
            tries <= 100
        };
        while unix::len(&fd, &name).ok()? != DOORBELL_LEN {
            if !wait() {
                return None;
            }
        }
        let mapping = crate::region::Mapping::map(fd, crate::region::BELL_LEN).ok()?;
        {
            let magic = mapping.word_at(crate::region::BELL_MAGIC)?;
            if created {
                magic.store(DOORBELL_MAGIC, Ordering::Release);
            }
            while magic.load(Ordering::Acquire) != DOORBELL_MAGIC {
                if !wait() {
                    return None;
                }
            }
        }
        let mem = BellMemory::shared(mapping).ok()?;
        Some(Doorbell { mem, enabled: true, private: false, side: Side::new(), counted_exclusive: false })
    }

    /// The producer's check after a publish (P2 in the module docs): rings
    /// only if somebody sleeps. Kept tiny so that it inlines into `publish`;
    /// the ring itself is out of line.
    #[inline(always)]
    pub fn after_publish(&self) {
        if self.mem.waiters().load(Ordering::SeqCst) != 0 {
            self.ring_for_sleepers();
        }
    }

    #[cold]
    #[inline(never)]
    fn ring_for_sleepers(&self) {
        let woken = self.ring();
        if woken != 0 {
            self.side.empty_rings.store(0, Ordering::Relaxed);
            return;
        }
        let streak = self.side.empty_rings.fetch_add(1, Ordering::Relaxed) + 1;
        if streak >= STALE_RINGS {
            self.side.empty_rings.store(0, Ordering::Relaxed);
            let w = self.mem.waiters().load(Ordering::Relaxed);
            if w != 0 {
                // A stale count (see "A reader that dies asleep").
                let _ = self.mem.waiters().compare_exchange(w, 0, Ordering::SeqCst, Ordering::Relaxed);
            }
        }
    }

    /// Rings unconditionally: bumps the ring counter and wakes every sleeper
    /// (of every process). Returns how many the kernel woke (a lower bound
    /// where that is unknown).
    pub fn ring(&self) -> usize {
        self.mem.seq().fetch_add(1, Ordering::Release);
        self.wake_all()
    }

    #[cfg(all(target_os = "linux", not(loom), not(miri)))]
    fn wake_all(&self) -> usize {
        use rustix::thread::futex;
        let flags = if self.private { futex::Flags::PRIVATE } else { futex::Flags::empty() };
        futex::wake(self.mem.seq(), flags, i32::MAX as u32).unwrap_or(0)
    }

    /// No futex (another platform, or Miri, whose check of the futex
    /// system call's variadic argument types refuses rustix's atomic
    /// pointer): sleepers poll, so there is nobody to wake.
    #[cfg(all(any(not(target_os = "linux"), miri), not(loom)))]
    fn wake_all(&self) -> usize {
        0
    }

    #[cfg(loom)]
    fn wake_all(&self) -> usize {
        let _g = self.side.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.side.cond.notify_all();
        1
    }

    /// Registers a sleeper (W1 in the module docs) and snapshots the ring
    /// counter. The caller re-checks the queue, then sleeps with
    /// [`Ticket::sleep`]; dropping the ticket unregisters. While exclusive
    /// producers are attached, the registration is followed by the heavy
    /// side of the asymmetric barrier (see "The exclusive producer").
    pub fn register(&self) -> Ticket<'_> {
        self.mem.waiters().fetch_add(1, Ordering::SeqCst);
        seqcst_point();
        if self.mem.exclusive().load(Ordering::SeqCst) != 0 {
            heavy_barrier();
        }
        let seq = self.mem.seq().load(Ordering::Acquire);
        Ticket { bell: self, seq }
    }

    /// The number of registered sleepers, as the shared word says.
    pub fn waiters(&self) -> u32 {
        self.mem.waiters().load(Ordering::Relaxed)
    }

    /// Called once by a handle that is an exclusive producer, before it
    /// produces: counts it in the doorbell's exclusive-producer word, so
    /// that readers going to sleep add the heavy barrier its publishes rely
    /// on. Only where that barrier exists (Linux's `membarrier`, this
    /// process registered for it; loom's stand-in): elsewhere, or if the
    /// kernel refuses, nothing is counted and such a reader may see this
    /// producer's record only on its poll interval.
    pub fn claim_exclusive_producer(&mut self) {
        if self.enabled && !self.counted_exclusive && heavy_barrier_reaches_this_process() {
            self.mem.exclusive().fetch_add(1, Ordering::SeqCst);
            self.counted_exclusive = true;
        }
    }
}

impl Drop for Doorbell {
    fn drop(&mut self) {
        if self.counted_exclusive {
            // Saturating, as a sleeper's unregistration.
            let word = self.mem.exclusive();
            let mut n = word.load(Ordering::Relaxed);
            while n != 0 {
                match word.compare_exchange_weak(n, n - 1, Ordering::SeqCst, Ordering::Relaxed) {
                    Ok(_) => break,
                    Err(actual) => n = actual,
                }
            }
        }
    }
}

/// The heavy side of the asymmetric barrier (see "The exclusive
/// producer"): every CPU running a thread of a process registered for
/// expedited barriers executes a full memory barrier before this returns.
/// A failure leaves the reader with its poll interval.
#[cfg(all(target_os = "linux", not(loom), not(miri)))]
fn heavy_barrier() {
    let _ = rustix::thread::membarrier(rustix::thread::MembarrierCommand::GlobalExpedited);
}

/// loom: a `SeqCst` fence, the ordering the system call gives (the
/// producer's side is one too under loom, `sync::light_barrier`).
#[cfg(loom)]
fn heavy_barrier() {
    crate::sync::fence(Ordering::SeqCst);
}

/// No futex sleep here (another platform, Miri): sleepers poll.
#[cfg(all(any(not(target_os = "linux"), miri), not(loom)))]
fn heavy_barrier() {}

/// Registers this process, once, to take part in other processes'
/// expedited barriers; whether that worked.
#[cfg(all(target_os = "linux", not(loom), not(miri)))]
fn heavy_barrier_reaches_this_process() -> bool {
    static REGISTERED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *REGISTERED
        .get_or_init(|| rustix::thread::membarrier(rustix::thread::MembarrierCommand::RegisterGlobalExpedited).is_ok())
}

#[cfg(loom)]
fn heavy_barrier_reaches_this_process() -> bool {
    true
}

#[cfg(all(any(not(target_os = "linux"), miri), not(loom)))]
fn heavy_barrier_reaches_this_process() -> bool {
    false
}

/// A registered sleeper; unregisters when dropped.
pub(crate) struct Ticket<'b> {
    bell: &'b Doorbell,
    seq: u32,
}

impl Ticket<'_> {
    /// Sleeps until the doorbell rings (after the snapshot) or `timeout`
    /// passes (`None`: no timeout, loom models only). Returns whether it
    /// rang. May return early (a signal).
    #[cfg(all(target_os = "linux", not(loom), not(miri)))]
    pub fn sleep(&self, timeout: Option<Duration>) -> bool {
        use rustix::thread::futex;
        let seq = self.bell.mem.seq();
        let flags = if self.bell.private { futex::Flags::PRIVATE } else { futex::Flags::empty() };
        let ts = timeout.map(|t| futex::Timespec {
            tv_sec: t.as_secs().min(i64::MAX as u64) as i64,
            tv_nsec: i64::from(t.subsec_nanos()),
        });
        match futex::wait(seq, flags, self.seq, ts.as_ref()) {
            Ok(()) => {}
            Err(e) if e == rustix::io::Errno::AGAIN || e == rustix::io::Errno::TIMEDOUT => {}
            Err(e) if e == rustix::io::Errno::INTR => {}
            // A futex the kernel refuses (a sandbox without it): sleep the
            // slice instead; correctness rests on the interval.
            Err(_) => std::thread::sleep(timeout.unwrap_or(crate::wait::POLL_INTERVAL)),
        }
        seq.load(Ordering::Acquire) != self.seq
    }

    /// No futex on this platform (or under Miri, see `wake_all`): sleep the
    /// slice (the bounded poll).
    #[cfg(all(any(not(target_os = "linux"), miri), not(loom)))]
    pub fn sleep(&self, timeout: Option<Duration>) -> bool {
        std::thread::sleep(timeout.unwrap_or(crate::wait::POLL_INTERVAL));
        self.bell.mem.seq().load(Ordering::Acquire) != self.seq
    }

    /// The loom stand-in for a futex: the compare and the sleep happen
    /// under the lock `wake_all` takes, as the kernel's futex hash-bucket
    /// lock orders `futex_wait`'s compare against `futex_wake`. No timeout
    /// (loom has no time): a lost wake-up shows as a deadlock.
    #[cfg(loom)]
    pub fn sleep(&self, _timeout: Option<Duration>) -> bool {
        let seq = self.bell.mem.seq();
        let g = self.bell.side.lock.lock().unwrap_or_else(|e| e.into_inner());
        if seq.load(Ordering::Acquire) == self.seq {
            let _g = self.bell.side.cond.wait(g).unwrap_or_else(|e| e.into_inner());
        }
        seq.load(Ordering::Acquire) != self.seq
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        // Saturating: a producer may have reset a count it judged stale.
        let waiters = self.bell.mem.waiters();
        let mut w = waiters.load(Ordering::Relaxed);
        while w != 0 {
            match waiters.compare_exchange_weak(w, w - 1, Ordering::SeqCst, Ordering::Relaxed) {
                Ok(_) => break,
                Err(actual) => w = actual,
            }
        }
    }
}
