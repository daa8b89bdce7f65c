//! The reserve/publish/read path allocates nothing (counted by a global
//! allocator), and the public types are `Send + Sync` where that is sound.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::AtomicU64;

use slick_queue::{ByteQueue, ByteRecord, Queue, Record};

struct Counting;

thread_local! {
    /// Allocations made by this thread (other threads of the test harness
    /// may allocate concurrently; they are not the hot path under test).
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn reserve_publish_read_do_not_allocate() {
    let q = Queue::<u64>::new(64).unwrap();
    let b = ByteQueue::new(64, 24).unwrap();
    let shared = AtomicU64::new(0);
    let mut cursor = 0;
    let mut bcursor = 0;
    let mut buf = [0u8; 48];
    let mut sum = 0u64;
    let before = allocations();
    let rounds: u64 = if cfg!(miri) { 100 } else { 10_000 };
    for i in 0..rounds {
        let idx = q.reserve(1).unwrap();
        q.write(idx, i).unwrap();
        q.publish(idx, 1).unwrap();
        q.push_slice(&[i, i]).unwrap();
        sum += q.read(&mut cursor).map(|r| r.value()).unwrap_or(0);
        sum += q.read(&mut cursor).map(|r| r.get(1).unwrap_or(0)).unwrap_or(0);
        sum += q.read_shared(&shared).map(|r| r.len() as u64).unwrap_or(0);
        sum += q.read_last().unwrap().map(|r| r.value()).unwrap_or(0);
        let j = b.reserve(2).unwrap();
        b.write(j, &buf[..40]).unwrap();
        b.publish(j, 2).unwrap();
        b.push(&buf[..7]).unwrap();
        if let Some(r) = b.read(&mut bcursor) {
            sum += r.copy_to(&mut buf) as u64;
            sum += u64::from(r.is_overwritten());
        }
    }
    let after = allocations();
    assert!(sum > 0);
    assert_eq!(after - before, 0, "the hot path allocated {} times", after - before);
}

#[test]
fn public_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Queue<u64>>();
    send_sync::<Queue<[u8; 3]>>();
    send_sync::<ByteQueue>();
    send_sync::<Record<'static, u64>>();
    send_sync::<ByteRecord<'static>>();
    send_sync::<slick_queue::Options>();
    send_sync::<slick_queue::Error>();
    #[cfg(any(unix, windows))]
    send_sync::<slick_queue::SharedCursor>();
    // A queue shared by reference between scoped threads.
    let q = Queue::<u64>::new(8).unwrap();
    std::thread::scope(|s| {
        s.spawn(|| q.push(1).unwrap());
    });
    let mut c = 0;
    assert_eq!(q.read(&mut c).unwrap().value(), 1);
}
