//! Loss accounting when readers are lapped: what `loss_count()`
//! reports must account for every element a reader skipped, including laps
//! it jumped over through a wrap marker. Local memory only, so Miri runs it.

use slick_queue::{Options, Queue};

/// Capacity 8, records of 3 elements: each lap holds records at positions
/// 0 and 3, and positions 6-7 are skipped with a wrap marker in slot 6.
fn queue() -> Queue<u64> {
    Queue::<u64>::with_options(8, &Options::new()).unwrap()
}

fn push3(q: &Queue<u64>, v: u64) -> u64 {
    q.push_slice(&[v; 3]).unwrap()
}

#[test]
fn a_wrap_marker_from_a_later_lap_counts_the_skipped_lap() {
    let q = queue();
    assert_eq!(push3(&q, 1), 0);
    assert_eq!(push3(&q, 2), 3);
    let mut c = 0;
    assert_eq!(q.read(&mut c).unwrap().value(), 1);
    assert_eq!(q.read(&mut c).unwrap().value(), 2);
    assert_eq!(c, 6, "the reader waits at the wrap position of lap 0");
    // Lap 1: records at 8 and 11 (the marker in slot 6 says 8), then lap 2:
    // the marker in slot 6 is rewritten to say 16, records at 16 and 19.
    for v in 3..=6 {
        push3(&q, v);
    }
    // The reader finds the lap-2 marker (16) in slot 6: it skipped lap 1
    // whole (records 3 and 4, 6 elements, plus its 2 unused positions).
    let r = q.read(&mut c).unwrap();
    assert_eq!((r.index(), r.value()), (16, 5));
    assert_eq!(q.loss_count(), 8, "the skipped lap is counted, not lost silently");
    assert_eq!(q.read(&mut c).unwrap().value(), 6);
    assert_eq!(q.loss_count(), 8);
}

#[test]
fn a_wrap_marker_of_the_readers_own_lap_is_no_loss() {
    let q = queue();
    push3(&q, 1);
    push3(&q, 2);
    let mut c = 0;
    let mut got: Vec<u64> = std::iter::from_fn(|| q.read(&mut c).map(|r| r.value())).collect();
    assert_eq!(push3(&q, 3), 8, "wraps: positions 6 and 7 stay unused");
    got.extend(std::iter::from_fn(|| q.read(&mut c).map(|r| r.value())));
    assert_eq!(got, [1, 2, 3]);
    assert_eq!((c, q.loss_count()), (11, 0));
}

#[test]
fn shared_cursor_counts_a_skipped_lap_once() {
    let q = queue();
    push3(&q, 1);
    push3(&q, 2);
    let shared = std::sync::atomic::AtomicU64::new(6);
    for v in 3..=6 {
        push3(&q, v);
    }
    let r = q.read_shared(&shared).unwrap();
    assert_eq!((r.index(), r.value()), (16, 5));
    assert_eq!(q.loss_count(), 8);
    assert_eq!(q.read_shared(&shared).unwrap().value(), 6);
    assert!(q.read_shared(&shared).is_none());
    assert_eq!(q.loss_count(), 8);
}

/// A producer that is lapped between `reserve()` and its writes (it stalled
/// while others reserved a whole ring past it) must not write into positions
/// that now belong to a newer record: the reservation check of
/// `is_overwritten()` cannot see such a write (it comes from an *older*
/// reservation). Its writes are skipped; its publish still happens (and is
/// counted), which readers of the newer record see as an overwrite.
#[test]
fn a_lapped_producer_does_not_clobber_the_newer_record() {
    let q = Queue::<u64>::with_options(4, &Options::new()).unwrap();
    let stale = q.reserve(1).unwrap(); // index 0; then the producer stalls...
    for v in 1..=4 {
        q.push(v).unwrap(); // ...while others fill a whole lap: index 4 is position 0
    }
    let mut c = 4;
    let newer = q.read(&mut c).unwrap();
    assert_eq!((newer.index(), newer.value()), (4, 4));
    assert!(!newer.is_overwritten());
    // The stalled producer wakes up and finishes its record.
    q.write(stale, 666).unwrap();
    assert_eq!(newer.value(), 4, "the newer record was not clobbered");
    assert!(!newer.is_overwritten());
    q.publish(stale, 1).unwrap();
    assert_eq!(q.overrun_count(), 1, "the lapped record is counted");
    assert_eq!(newer.value(), 4);
    assert!(newer.is_overwritten(), "its slot no longer names it: readers are told");
    // A reader still at the stale index finds a record there whose copy
    // is not what was published, and is told so.
    let mut old = stale;
    let r = q.read(&mut old).unwrap();
    assert_eq!(r.index(), stale);
    assert!(r.is_overwritten());
    // A reader of the newer lap that had not read position 0 yet waits for
    // the next lap there, then counts the lap it lost.
    let mut c = 4;
    assert!(q.read(&mut c).is_none());
    for v in 5..=8 {
        q.push(v).unwrap();
    }
    assert_eq!(q.read(&mut c).map(|r| r.value()), Some(8));
    assert_eq!(q.loss_count(), 4);

    // A partial-element write (1 byte of a 16-byte element) is skipped too.
    let b = slick_queue::ByteQueue::new(2, 16).unwrap();
    let stale = b.reserve(1).unwrap(); // index 0
    b.push(&[7; 16]).unwrap(); // 1
    b.push(&[8; 16]).unwrap(); // 2: position 0
    let mut c = 2;
    let newer = b.read(&mut c).unwrap();
    b.write(stale, &[1]).unwrap();
    assert_eq!(newer.to_vec(), [8; 16]);
    b.publish(stale, 1).unwrap();
    assert_eq!(b.overrun_count(), 1);
    assert!(newer.is_overwritten());
}

/// Threads on a ring small enough to be lapped all the time: producers of
/// fixed 3-element records (5 a lap in a ring of 16, one unused position,
/// so wrap markers too), a broadcast reader and two work-stealing readers.
/// Every record accepted (`is_overwritten()` false) is intact, in order per
/// producer, and `accepted + overwritten + loss / 16 * 5` accounts for every
/// record published, exactly (loss is whole laps with fixed-length records).
/// Miri runs it with weak-memory emulation.
#[test]
fn lapped_readers_account_for_every_record() {
    use std::sync::atomic::{AtomicU64, Ordering};
    #[cfg(miri)]
    const PER: u64 = 25;
    #[cfg(not(miri))]
    const PER: u64 = 20_000;
    const CAP: u32 = 16;
    const K: usize = 3;
    let rec = |id: u64, seq: u64| [id, seq, (id << 32) ^ seq.wrapping_mul(0x9E37_79B9_7F4A_7C15)];
    let check = |r: &[u64; K]| r[2] == (r[0] << 32) ^ r[1].wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let q = Queue::<u64>::with_options(CAP, &Options::new()).unwrap();
    let end = AtomicU64::new(u64::MAX);
    let shared = AtomicU64::new(0);
    // A local queue has one handle, so loss_count() sums all readers: the
    // broadcast reader accounts its own loss from its cursor's movement
    // (whole laps; a wrap adds one unused position), and the stealers get
    // the rest of the handle's total.
    let reader = |stealing: bool| {
        let (mut acc, mut over, mut lost, mut cursor) = (0u64, 0u64, 0u64, 0u64);
        let mut next = [0u64; 2];
        loop {
            let before = cursor;
            let got = if stealing { q.read_shared(&shared) } else { q.read(&mut cursor) };
            if !stealing {
                let moved = cursor - before - got.as_ref().map_or(0, |r| r.len() as u64);
                lost += moved / u64::from(CAP) * u64::from(CAP);
            }
            let Some(r) = got else {
                let e = end.load(Ordering::Acquire);
                let at = if stealing { shared.load(Ordering::Acquire) } else { cursor };
                if e != u64::MAX && at >= e {
                    break;
                }
                std::thread::yield_now();
                continue;
            };
            let mut v = [0u64; K];
            r.copy_to(&mut v);
            if r.is_overwritten() {
                over += 1;
                continue;
            }
            assert_eq!(r.len(), K);
            assert!(check(&v), "torn record accepted: {v:?}");
            let id = v[0] as usize;
            assert!(v[1] >= next[id], "producer {id} out of order");
            next[id] = v[1] + 1;
            acc += 1;
        }
        (acc, over, lost)
    };
    let (mut results, mut published) = (Vec::new(), 0u64);
    std::thread::scope(|s| {
        let readers: Vec<_> = [false, true, true].into_iter().map(|st| (st, s.spawn(move || reader(st)))).collect();
        let producers: Vec<_> = (0..2u64)
            .map(|id| {
                let q = &q;
                s.spawn(move || {
                    for seq in 0..PER {
                        q.push_slice(&rec(id, seq)).unwrap();
                    }
                })
            })
            .collect();
        for p in producers {
            p.join().unwrap();
            published += PER;
        }
        end.store(q.initial_reading_index(), Ordering::Release);
        for (st, r) in readers {
            results.push((st, r.join().unwrap()));
        }
    });
    let per_lap = u64::from(CAP) / K as u64;
    let total_loss = q.loss_count();
    assert_eq!(total_loss % u64::from(CAP), 0, "loss is whole laps");
    let (mut steal_records, mut broadcast_loss) = (0u64, 0u64);
    for (stealing, (acc, over, lost)) in &results {
        if *stealing {
            steal_records += acc + over;
        } else {
            broadcast_loss = *lost;
            assert_eq!(acc + over + lost / u64::from(CAP) * per_lap, published, "broadcast accounting");
        }
    }
    let steal_loss = total_loss - broadcast_loss;
    assert_eq!(steal_records + steal_loss / u64::from(CAP) * per_lap, published, "work-stealing accounting");
}
