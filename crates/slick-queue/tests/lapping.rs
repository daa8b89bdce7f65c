//! Loss accounting when readers are lapped (issue #5): what `loss_count()`
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
