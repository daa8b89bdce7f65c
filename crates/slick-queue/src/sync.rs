//! The atomic types the crate is built on: `std`'s, or `loom`'s when the
//! crate is compiled with `--cfg loom` for model checking.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicU32, AtomicU64};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{fence, AtomicU32, AtomicU64};

pub(crate) use std::sync::atomic::Ordering;

/// Back-off inside a contended compare-and-swap loop.
#[inline]
pub(crate) fn cpu_relax() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::hint::spin_loop();
}

/// Pads and aligns a value to its own pair of cache lines (adjacent-line
/// prefetch makes 128 bytes the unit of false sharing on x86-64).
#[repr(C, align(128))]
pub(crate) struct CachePadded<T>(pub T);

impl<T> std::ops::Deref for CachePadded<T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        &self.0
    }
}

/// Marks a `SeqCst` read-modify-write whose place in the single total order
/// of `SeqCst` operations an argument relies on (the doorbell handshake, see
/// `doorbell.rs`). A no-op in real builds: the `SeqCst` access itself gives
/// it. loom models `SeqCst` accesses as `AcqRel` but `SeqCst` fences
/// faithfully, so under loom a `SeqCst` fence right after the access
/// restores the total order the argument needs.
#[inline(always)]
pub(crate) fn seqcst_point() {
    #[cfg(loom)]
    fence(Ordering::SeqCst);
}

/// The light side of the asymmetric barrier between an exclusive producer's
/// publish and a sleeping reader's registration (see `doorbell.rs`, "The
/// exclusive producer"): only a compiler barrier, as the reader's side
/// (`membarrier`) makes every CPU running the producer execute a full
/// barrier. loom has no such system call: there both sides are `SeqCst`
/// fences, the ordering the system call provides.
#[inline(always)]
pub(crate) fn light_barrier() {
    #[cfg(loom)]
    fence(Ordering::SeqCst);
    #[cfg(not(loom))]
    std::sync::atomic::compiler_fence(Ordering::SeqCst);
}
