//! Several producer and consumer threads on one local queue: broadcast (every
//! reader sees every record of each producer, in order, when nobody is
//! lapped) and work stealing (each record delivered exactly once).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Barrier;
use std::thread;

use slick_queue::{Options, Queue};

#[cfg(miri)]
const PER_PRODUCER: u64 = 40;
#[cfg(not(miri))]
const PER_PRODUCER: u64 = 50_000;

/// A record: producer id in the top 8 bits, sequence below; records of 1 to
/// 3 elements, each element carrying the same tag.
fn tag(id: u64, seq: u64) -> u64 {
    (id << 56) | seq
}

fn record_len(seq: u64) -> usize {
    1 + (seq % 3) as usize
}

fn produce(q: &Queue<u64>, id: u64, count: u64) {
    let mut buf = [0u64; 3];
    for seq in 0..count {
        let n = record_len(seq);
        buf[..n].fill(tag(id, seq));
        q.push_slice(&buf[..n]).expect("push");
    }
}

/// Checks a record and returns (producer, seq).
fn decode(rec: &[u64]) -> (u64, u64) {
    let (id, seq) = (rec[0] >> 56, rec[0] & ((1 << 56) - 1));
    assert_eq!(rec.len(), record_len(seq), "record length");
    assert!(rec.iter().all(|&v| v == rec[0]), "torn record {rec:?}");
    (id, seq)
}

#[test]
fn broadcast_every_reader_sees_every_record_in_order() {
    const PRODUCERS: u64 = 3;
    const READERS: usize = 2;
    // Big enough that nobody is lapped: at most 3 elements per record.
    let cap = (PRODUCERS * PER_PRODUCER * 3).next_power_of_two() as u32;
    let q = Queue::<u64>::with_options(cap, &Options::new().items_per_slot(1)).unwrap();
    let start = Barrier::new(PRODUCERS as usize + READERS);
    thread::scope(|s| {
        for id in 0..PRODUCERS {
            let (q, start) = (&q, &start);
            s.spawn(move || {
                start.wait();
                produce(q, id, PER_PRODUCER);
            });
        }
        let readers: Vec<_> = (0..READERS)
            .map(|_| {
                let (q, start) = (&q, &start);
                s.spawn(move || {
                    start.wait();
                    let mut next = [0u64; PRODUCERS as usize];
                    let mut cursor = 0;
                    let mut total = 0;
                    let mut buf = Vec::new();
                    while total < PRODUCERS * PER_PRODUCER {
                        match q.read(&mut cursor) {
                            Some(r) => {
                                buf.resize(r.len(), 0);
                                r.copy_to(&mut buf);
                                let (id, seq) = decode(&buf);
                                assert_eq!(seq, next[id as usize], "producer {id} out of order");
                                next[id as usize] += 1;
                                total += 1;
                            }
                            None => thread::yield_now(),
                        }
                    }
                    (next, q.loss_count())
                })
            })
            .collect();
        for r in readers {
            let (next, loss) = r.join().unwrap();
            assert_eq!(next, [PER_PRODUCER; PRODUCERS as usize]);
            assert_eq!(loss, 0);
        }
    });
}

#[test]
fn work_stealing_delivers_each_record_exactly_once() {
    const PRODUCERS: u64 = 2;
    const CONSUMERS: usize = 3;
    let cap = (PRODUCERS * PER_PRODUCER * 3).next_power_of_two() as u32;
    let q = Queue::<u64>::new(cap).unwrap();
    let cursor = AtomicU64::new(0);
    let producers_done = AtomicU64::new(0);
    thread::scope(|s| {
        for id in 0..PRODUCERS {
            let (q, done) = (&q, &producers_done);
            s.spawn(move || {
                produce(q, id, PER_PRODUCER);
                done.fetch_add(1, Ordering::Release);
            });
        }
        let consumers: Vec<_> = (0..CONSUMERS)
            .map(|_| {
                let (q, cursor, done) = (&q, &cursor, &producers_done);
                s.spawn(move || {
                    let mut mine = Vec::new();
                    let mut buf = Vec::new();
                    loop {
                        // Read `done` before trying: if it was complete and the
                        // queue is then empty, nothing more can come.
                        let finished = done.load(Ordering::Acquire) == PRODUCERS;
                        match q.read_shared(cursor) {
                            Some(r) => {
                                buf.resize(r.len(), 0);
                                r.copy_to(&mut buf);
                                mine.push(decode(&buf));
                            }
                            None if finished => break,
                            None => thread::yield_now(),
                        }
                    }
                    mine
                })
            })
            .collect();
        let mut all: Vec<(u64, u64)> = consumers.into_iter().flat_map(|c| c.join().unwrap()).collect();
        all.sort_unstable();
        let expected: Vec<(u64, u64)> = (0..PRODUCERS).flat_map(|id| (0..PER_PRODUCER).map(move |s| (id, s))).collect();
        assert_eq!(all.len(), expected.len(), "every record once: no loss, no duplicate");
        assert_eq!(all, expected);
    });
    assert_eq!(q.loss_count(), 0);
}

#[test]
fn work_stealing_in_runs_delivers_each_record_exactly_once() {
    const PRODUCERS: u64 = 2;
    const CONSUMERS: usize = 3;
    let cap = (PRODUCERS * PER_PRODUCER * 3).next_power_of_two() as u32;
    let q = Queue::<u64>::new(cap).unwrap();
    let cursor = AtomicU64::new(0);
    let producers_done = AtomicU64::new(0);
    thread::scope(|s| {
        for id in 0..PRODUCERS {
            let (q, done) = (&q, &producers_done);
            s.spawn(move || {
                produce(q, id, PER_PRODUCER);
                done.fetch_add(1, Ordering::Release);
            });
        }
        let consumers: Vec<_> = (0..CONSUMERS)
            .enumerate()
            .map(|(k, _)| {
                let (q, cursor, done) = (&q, &cursor, &producers_done);
                s.spawn(move || {
                    let mut mine = Vec::new();
                    let mut buf = Vec::new();
                    // Runs of at most 4, 7 or 64 elements (records are 1-3).
                    let max = [4, 7, 64][k % 3];
                    loop {
                        let finished = done.load(Ordering::Acquire) == PRODUCERS;
                        let (run, blocked) = q.as_bytes().read_shared_run(cursor, max);
                        assert!(blocked.is_none() || !run.is_empty(), "a 3-element record fits every run");
                        let total: usize = run.iter().map(|r| r.len()).sum();
                        assert!(total <= max);
                        for r in &run {
                            buf.resize(r.byte_len(), 0);
                            r.copy_to(&mut buf);
                            assert!(!r.is_overwritten());
                            let words: Vec<u64> =
                                buf.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap())).collect();
                            mine.push(decode(&words));
                        }
                        if run.is_empty() {
                            if finished {
                                break;
                            }
                            thread::yield_now();
                        }
                    }
                    mine
                })
            })
            .collect();
        let mut all: Vec<(u64, u64)> = consumers.into_iter().flat_map(|c| c.join().unwrap()).collect();
        all.sort_unstable();
        let expected: Vec<(u64, u64)> = (0..PRODUCERS).flat_map(|id| (0..PER_PRODUCER).map(move |s| (id, s))).collect();
        assert_eq!(all.len(), expected.len(), "every record once: no loss, no duplicate");
        assert_eq!(all, expected);
    });
    assert_eq!(q.loss_count(), 0);
}

#[test]
fn racing_producers_get_disjoint_reservations() {
    let q = Queue::<u64>::new(1 << 12).unwrap();
    let per = if cfg!(miri) { 30 } else { 20_000 };
    let indices: Vec<Vec<u64>> = thread::scope(|s| {
        let hs: Vec<_> = (0..4)
            .map(|t| {
                let q = &q;
                s.spawn(move || (0..per).map(|k| q.reserve(1 + ((k + t) % 2) as u32).unwrap()).collect::<Vec<_>>())
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut all: Vec<u64> = indices.concat();
    let before = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), before, "two producers got the same index");
}
