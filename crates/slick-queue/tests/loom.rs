//! Model checks of the concurrency protocol with `loom`, over the local
//! backend (the same ring code that runs over shared memory). Run with
//!
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test -p slick-queue --test loom --release
//! ```
//!
//! loom explores the thread interleavings and the weak-memory outcomes the
//! orderings allow; an assertion that fails in any of them fails the test.
#![cfg(loom)]

use loom::sync::atomic::{AtomicU64, Ordering};
use loom::sync::Arc;
use loom::thread;
use slick_queue::{Options, Queue};

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(3);
    }
    b.check(f);
}

fn queue(size: u32, opts: Options) -> Arc<Queue<u64>> {
    Arc::new(Queue::<u64>::with_options(size, &opts).unwrap())
}

/// publish (Release on data_index) -> read (Acquire): a reader that sees a
/// record sees its bytes, in order, for records of several elements.
#[test]
fn publish_makes_the_record_visible() {
    publish_makes_the_record_visible_with(Options::new().read_last(false));
}

/// The same model with the exclusive producer (plain load/store reservation
/// and last-published update).
#[test]
fn exclusive_publish_makes_the_record_visible() {
    publish_makes_the_record_visible_with(Options::new().read_last(false).exclusive_producer(true));
}

fn publish_makes_the_record_visible_with(opts: Options) {
    model(move || {
        let q = queue(8, opts.clone());
        let p = {
            let q = q.clone();
            thread::spawn(move || {
                q.push(11).unwrap();
                q.push_slice(&[21, 22]).unwrap();
            })
        };
        let mut c = 0;
        let mut got = Vec::new();
        while got.len() < 2 {
            match q.read(&mut c) {
                Some(r) => got.push(r.to_vec()),
                None => thread::yield_now(),
            }
        }
        p.join().unwrap();
        assert_eq!(got, vec![vec![11], vec![21, 22]]);
        assert_eq!(q.loss_count(), 0);
    });
}

/// Two producers race on the reservation word: disjoint indices, and a
/// reader sees both records intact.
#[test]
fn two_producers_one_reader() {
    model(|| {
        let q = queue(4, Options::new().read_last(false));
        let ps: Vec<_> = [1u64, 2]
            .into_iter()
            .map(|v| {
                let q = q.clone();
                thread::spawn(move || q.push(v).unwrap())
            })
            .collect();
        let mut c = 0;
        let mut got = Vec::new();
        while got.len() < 2 {
            match q.read(&mut c) {
                Some(r) => got.push((r.index(), r.value())),
                None => thread::yield_now(),
            }
        }
        let mut idx: Vec<u64> = ps.into_iter().map(|p| p.join().unwrap()).collect();
        idx.sort_unstable();
        assert_eq!(idx, vec![0, 1]);
        got.sort_unstable();
        let mut vals: Vec<u64> = got.iter().map(|g| g.1).collect();
        vals.sort_unstable();
        assert_eq!(vals, vec![1, 2]);
    });
}

/// Work stealing: two consumers sharing one cursor claim each record exactly
/// once, while the producer is still publishing. (Each consumer makes a
/// bounded number of attempts, so the model stays finite; whatever is left is
/// drained after the producer is done.)
#[test]
fn shared_cursor_claims_each_record_once() {
    model(|| {
        let q = queue(4, Options::new().read_last(false));
        let cursor = Arc::new(AtomicU64::new(0));
        let p = {
            let q = q.clone();
            thread::spawn(move || {
                q.push(1).unwrap();
                q.push(2).unwrap();
            })
        };
        let attempt = |q: Arc<Queue<u64>>, cursor: Arc<AtomicU64>| {
            move || {
                let mut mine = Vec::new();
                for _ in 0..2 {
                    if let Some(r) = q.read_shared(&cursor) {
                        mine.push(r.value());
                    }
                }
                mine
            }
        };
        let c1 = thread::spawn(attempt(q.clone(), cursor.clone()));
        let mut all = attempt(q.clone(), cursor.clone())();
        all.extend(c1.join().unwrap());
        p.join().unwrap();
        while let Some(r) = q.read_shared(&cursor) {
            all.push(r.value());
        }
        all.sort_unstable();
        assert_eq!(all, vec![1, 2], "each record exactly once");
        assert_eq!(cursor.load(Ordering::Acquire), 2);
    });
}

/// The same with runs: two consumers claim runs of consecutive records (at
/// most two elements each) with one CAS per run while the producer
/// publishes; every record is delivered exactly once.
#[test]
fn shared_cursor_runs_claim_each_record_once() {
    model(|| {
        let q = queue(4, Options::new().read_last(false));
        let cursor = Arc::new(AtomicU64::new(0));
        let p = {
            let q = q.clone();
            thread::spawn(move || {
                q.push(1).unwrap();
                q.push(2).unwrap();
            })
        };
        let value = |r: &slick_queue::ByteRecord<'_>| u64::from_le_bytes(r.to_vec().try_into().unwrap());
        let attempt = move |q: Arc<Queue<u64>>, cursor: Arc<AtomicU64>| {
            move || {
                let mut mine = Vec::new();
                for _ in 0..2 {
                    let (run, _) = q.as_bytes().read_shared_run(&cursor, 2);
                    mine.extend(run.iter().map(value));
                }
                mine
            }
        };
        let c1 = thread::spawn(attempt(q.clone(), cursor.clone()));
        let mut all = attempt(q.clone(), cursor.clone())();
        all.extend(c1.join().unwrap());
        p.join().unwrap();
        loop {
            let (run, _) = q.as_bytes().read_shared_run(&cursor, 2);
            if run.is_empty() {
                break;
            }
            all.extend(run.iter().map(value));
        }
        all.sort_unstable();
        assert_eq!(all, vec![1, 2], "each record exactly once");
        assert_eq!(cursor.load(Ordering::Acquire), 2);
    });
}

/// A record that must not split across the ring end leaves a wrap marker; a
/// concurrent reader either follows it or, if lapped, counts the loss. A
/// copy that `is_overwritten()` does not flag is exactly what was published.
#[test]
fn wrap_marker_and_lapping_reader() {
    wrap_marker_and_lapping_reader_with(Options::new().read_last(false));
}

/// The same model with the exclusive producer (plain load/store reservation
/// and last-published update).
#[test]
fn exclusive_wrap_marker_and_lapping_reader() {
    wrap_marker_and_lapping_reader_with(Options::new().read_last(false).exclusive_producer(true));
}

fn wrap_marker_and_lapping_reader_with(opts: Options) {
    model(move || {
        let q = queue(4, opts.clone());
        let p = {
            let q = q.clone();
            thread::spawn(move || {
                q.push_slice(&[1, 1, 1]).unwrap(); // index 0
                q.push_slice(&[2, 2, 2]).unwrap(); // wraps to index 4
            })
        };
        let mut c = 0;
        let mut seen = Vec::new();
        while c < 7 {
            match q.read(&mut c) {
                Some(r) => {
                    let v = r.to_vec();
                    if !r.is_overwritten() {
                        let want = if r.index() == 0 { 1 } else { 2 };
                        assert_eq!(v, vec![want; 3], "an intact copy is the published record");
                    }
                    seen.push(r.index());
                }
                None => thread::yield_now(),
            }
        }
        p.join().unwrap();
        assert!(seen == vec![0, 4] || seen == vec![4], "{seen:?}");
        assert_eq!(q.loss_count(), if seen.len() == 1 { 4 } else { 0 });
    });
}

/// A reader lapped by a single-element producer on a 2-element ring: the
/// seqlock check (`is_overwritten`) never vouches for a torn or stale copy.
#[test]
fn overwritten_copies_are_always_flagged() {
    overwritten_copies_are_always_flagged_with(Options::new().read_last(false));
}

/// The same model with the exclusive producer (plain load/store reservation
/// and last-published update).
#[test]
fn exclusive_overwritten_copies_are_always_flagged() {
    overwritten_copies_are_always_flagged_with(Options::new().read_last(false).exclusive_producer(true));
}

fn overwritten_copies_are_always_flagged_with(opts: Options) {
    model(move || {
        let q = queue(2, opts.clone());
        q.push(10).unwrap(); // index 0, before the producer thread starts
        let p = {
            let q = q.clone();
            thread::spawn(move || {
                q.push(11).unwrap(); // index 1
                q.push(12).unwrap(); // index 2: position 0 again
            })
        };
        let mut c = 0;
        if let Some(r) = q.read(&mut c) {
            let v = r.value();
            if !r.is_overwritten() {
                assert_eq!(v, 10 + r.index(), "unflagged copy of index {} must be intact", r.index());
            }
        }
        p.join().unwrap();
    });
}

/// read_last while a producer publishes: nothing, or a record whose bytes
/// match its index.
#[test]
fn read_last_sees_a_whole_record() {
    read_last_sees_a_whole_record_with(Options::new());
}

/// The same model with the exclusive producer (plain load/store reservation
/// and last-published update).
#[test]
fn exclusive_read_last_sees_a_whole_record() {
    read_last_sees_a_whole_record_with(Options::new().exclusive_producer(true));
}

fn read_last_sees_a_whole_record_with(opts: Options) {
    model(move || {
        let q = queue(4, opts.clone());
        let p = {
            let q = q.clone();
            thread::spawn(move || {
                q.push(100).unwrap();
                q.push(101).unwrap();
            })
        };
        if let Some(r) = q.read_last().unwrap() {
            assert_eq!(r.value(), 100 + r.index());
        }
        p.join().unwrap();
        let r = q.read_last().unwrap().unwrap();
        assert_eq!((r.index(), r.value()), (1, 101));
    });
}

// ------------------------------------------------------------ the doorbell
//
// What these models cover: the sleep/wake handshake of `doorbell.rs` as the
// crate runs it (`wait::wait_for` over a local queue's doorbell): the
// reader's registration, snapshot of the ring counter, re-check of the
// queue and of the reservation word, and sleep; the producer's reservation,
// publish and waiter check. The futex is replaced by a mutex and a
// condition variable whose compare-and-sleep happens under the lock the
// wake takes (as the kernel orders `futex_wait` against `futex_wake`), and
// the sleep has no timeout (loom has no time), so a lost wake-up is a
// deadlock, which loom reports. The bounded poll interval is therefore not
// relied on: these models prove that our producers alone always wake a
// sleeper. loom models `SeqCst` accesses as `AcqRel`; the crate places a
// `SeqCst` fence after each access the argument orders (P1, W1) in loom
// builds only (`sync::seqcst_point`), which restores the total order the
// real `SeqCst` accesses have. Not covered: the futex system call itself,
// the timeout, the stale-count reset, several processes (the doorbell
// words are the same atomics whether on the heap or in a mapping).

/// A reader blocked in `read_wait` is always woken by a publish, whatever
/// the interleaving of its registration, re-check and sleep with the
/// producer's reservation, publish and waiter check.
#[test]
fn doorbell_no_lost_wakeup() {
    doorbell_no_lost_wakeup_with(Options::new().read_last(false));
}

fn doorbell_no_lost_wakeup_with(options: Options) {
    model(move || {
        let q = queue(8, options.clone());
        let p = {
            let q = q.clone();
            thread::spawn(move || {
                q.push(5).unwrap();
            })
        };
        let mut c = 0;
        assert_eq!(q.read_wait(&mut c).value(), 5);
        p.join().unwrap();
        assert_eq!(q.sleeping_readers(), Some(0));
    });
}

/// The same with the exclusive producer, whose publish takes no locked
/// instruction: the asymmetric barrier (here both sides `SeqCst` fences,
/// the ordering `membarrier` gives) must still order it against the
/// reader's registration. Without it this model deadlocks (a lost
/// wake-up).
#[test]
fn doorbell_no_lost_wakeup_exclusive_producer() {
    doorbell_no_lost_wakeup_with(Options::new().read_last(false).exclusive_producer(true));
}

/// The same with a record of two elements (the compare-and-swap
/// reservation path) and a shared cursor.
#[test]
fn doorbell_no_lost_wakeup_shared_cursor_multi_element() {
    model(|| {
        let q = queue(8, Options::new().read_last(false));
        let p = {
            let q = q.clone();
            thread::spawn(move || {
                q.push_slice(&[1, 2]).unwrap();
            })
        };
        let cursor = AtomicU64::new(0);
        let rec = q.read_shared_wait(&cursor);
        assert_eq!(rec.to_vec(), vec![1, 2]);
        p.join().unwrap();
        assert_eq!(cursor.load(Ordering::Relaxed), 2);
    });
}

/// `wake_waiters` after setting a stop flag always ends a stoppable wait
/// (the close() of the bindings).
#[test]
fn doorbell_wake_waiters_stops_a_wait() {
    model(|| {
        let q = queue(8, Options::new().read_last(false));
        let stop = Arc::new(loom::sync::atomic::AtomicBool::new(false));
        let closer = {
            let (q, stop) = (q.clone(), stop.clone());
            thread::spawn(move || {
                stop.store(true, Ordering::Release);
                q.wake_waiters();
            })
        };
        let mut c = 0;
        let is_stopped = || stop.load(Ordering::Acquire);
        assert!(q.read_timeout_or_stop(&mut c, None, &is_stopped).is_none());
        closer.join().unwrap();
    });
}
