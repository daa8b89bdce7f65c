//! Every queue operation, through the public API, on local memory (these
//! tests also run under Miri).

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use slick_queue::{ByteQueue, Error, Options, Queue};

fn drain(q: &Queue<u64>, cursor: &mut u64) -> Vec<(u64, Vec<u64>)> {
    let mut out = Vec::new();
    while let Some(r) = q.read(cursor) {
        out.push((r.index(), r.to_vec()));
    }
    out
}

#[test]
fn push_and_read_in_order() {
    let q = Queue::<u64>::new(16).unwrap();
    for v in 0..10 {
        assert_eq!(q.push(v * 3).unwrap(), v);
    }
    let mut c = 0;
    let got: Vec<u64> = drain(&q, &mut c).into_iter().map(|(_, v)| v[0]).collect();
    assert_eq!(got, (0..10).map(|v| v * 3).collect::<Vec<_>>());
    assert_eq!(c, 10);
    assert!(q.read(&mut c).is_none(), "nothing new");
    assert_eq!(c, 10, "an empty read leaves the cursor alone");
}

#[test]
fn unpublished_reservation_is_invisible() {
    let q = Queue::<u64>::new(8).unwrap();
    let i = q.reserve(1).unwrap();
    q.write(i, 5).unwrap();
    let mut c = 0;
    assert!(q.read(&mut c).is_none());
    q.publish(i, 1).unwrap();
    assert_eq!(q.read(&mut c).unwrap().value(), 5);
}

#[test]
fn reserve_errors() {
    let q = Queue::<u64>::new(8).unwrap();
    assert!(matches!(q.reserve(0), Err(Error::ZeroElements)));
    assert!(matches!(q.reserve(9), Err(Error::TooManyElements { n: 9, size: 8 })));
    assert_eq!(q.reserve(8).unwrap(), 0, "a whole-ring record is allowed");
    assert!(matches!(q.publish(0, 0), Err(Error::ZeroElements)));
    assert!(matches!(q.publish(3, 6), Err(Error::OutOfRange { position: 3, len: 6, size: 8 })));
    assert!(matches!(q.write_slice(6, &[1, 2, 3]), Err(Error::OutOfRange { .. })));
    let msg = q.reserve(9).unwrap_err().to_string();
    assert!(msg.contains("9") && msg.contains("capacity 8"), "{msg}");
}

#[test]
fn construction_errors() {
    assert!(matches!(Queue::<u64>::new(0), Err(Error::InvalidCapacity { size: 0 })));
    assert!(matches!(Queue::<u64>::new(12), Err(Error::InvalidCapacity { size: 12 })));
    assert!(matches!(ByteQueue::new(8, 0), Err(Error::InvalidElementSize { .. })));
    assert!(matches!(Queue::<()>::new(8), Err(Error::InvalidElementSize { .. })));
    let o = Options::new().items_per_slot(3);
    assert!(matches!(Queue::<u64>::with_options(8, &o), Err(Error::InvalidItemsPerSlot { .. })));
    let o = Options::new().items_per_slot(16);
    assert!(matches!(Queue::<u64>::with_options(8, &o), Err(Error::InvalidItemsPerSlot { .. })));
}

#[test]
fn multi_element_records_and_wrap_markers() {
    let q = Queue::<u64>::new(8).unwrap();
    let mut c = 0;
    assert_eq!(q.push_slice(&[1, 2, 3]).unwrap(), 0);
    assert_eq!(q.push_slice(&[4, 5, 6]).unwrap(), 3);
    assert_eq!(drain(&q, &mut c), vec![(0, vec![1, 2, 3]), (3, vec![4, 5, 6])]);
    // 6 + 3 > 8: the record must not split, so it starts the next lap at 8
    assert_eq!(q.push_slice(&[7, 8, 9]).unwrap(), 8);
    assert_eq!(q.push_slice(&[10]).unwrap(), 11);
    assert_eq!(drain(&q, &mut c), vec![(8, vec![7, 8, 9]), (11, vec![10])], "the reader follows the wrap marker at 6");
    assert_eq!(c, 12);
    assert_eq!(q.loss_count(), 0, "a wrap skip is not a loss");
    // A reader that was not there in time is lapped by the record at 8.
    let mut late = 0;
    assert_eq!(drain(&q, &mut late), vec![(8, vec![7, 8, 9]), (11, vec![10])]);
    assert_eq!(q.loss_count(), 8, "indices 0..8 were overwritten before the late reader saw them");
}

#[test]
fn wrap_marker_seen_by_a_reader_already_waiting_there() {
    let q = Queue::<u64>::new(8).unwrap();
    q.push_slice(&[1; 6]).unwrap();
    let mut c = 0;
    drain(&q, &mut c);
    assert_eq!(c, 6);
    assert!(q.read(&mut c).is_none());
    q.push_slice(&[2, 2, 2, 2]).unwrap(); // wraps to 8
    let r = q.read(&mut c).unwrap();
    assert_eq!((r.index(), r.len()), (8, 4));
}

#[test]
fn items_per_slot_rounds_reservations_up() {
    let o = Options::new().items_per_slot(4);
    let q = Queue::<u32>::with_options(16, &o).unwrap();
    assert_eq!((q.items_per_slot(), q.slot_count()), (4, 4));
    assert_eq!(q.push_slice(&[1]).unwrap(), 0);
    assert_eq!(q.push_slice(&[2, 2, 2, 2, 2]).unwrap(), 4, "need(1) = 4");
    assert_eq!(q.push_slice(&[3, 3]).unwrap(), 12, "need(5) = 8");
    let mut c = 0;
    let mut got = Vec::new();
    while let Some(r) = q.read(&mut c) {
        got.push((r.index(), r.to_vec()));
    }
    assert_eq!(got, vec![(0, vec![1]), (4, vec![2; 5]), (12, vec![3, 3])]);
    assert_eq!(c, 16);
    assert_eq!(q.push_slice(&[4]).unwrap(), 16, "the next lap");
    let r = q.read(&mut c).unwrap();
    assert_eq!((r.index(), r.to_vec()), (16, vec![4]));
    assert_eq!(c, 20);
    assert_eq!(q.push_slice(&[5; 13]).unwrap(), 32, "position 4 + need(13) = 16 > 12 left: wraps");
    let r = q.read(&mut c).unwrap();
    assert_eq!((r.index(), r.len()), (32, 13));
    assert_eq!(c, 48);
}

#[test]
fn lapped_reader_counts_its_loss() {
    let q = Queue::<u64>::new(8).unwrap();
    for v in 0..20 {
        q.push(v).unwrap();
    }
    // Positions 0..8 now hold indices 16..20 (positions 0-3) and 12..16 (4-7).
    let mut c = 0;
    let r = q.read(&mut c).unwrap();
    assert_eq!((r.index(), r.value()), (16, 16), "skips to the record now at position 0");
    assert_eq!(q.loss_count(), 16, "indices 0..16 were overwritten before this reader saw them");
    assert!(!r.is_overwritten(), "index 16 is within one ring of the write index 20");
    let rest: Vec<u64> = drain(&q, &mut c).into_iter().map(|(_, v)| v[0]).collect();
    assert_eq!(rest, vec![17, 18, 19]);
    assert_eq!(q.loss_count(), 16);
}

#[test]
fn loss_detection_off_reports_zero() {
    let q = Queue::<u64>::with_options(4, &Options::new().loss_detection(false)).unwrap();
    for v in 0..10 {
        q.push(v).unwrap();
    }
    let mut c = 0;
    assert_eq!(q.read(&mut c).unwrap().value(), 8);
    assert_eq!(q.loss_count(), 0);
}

#[test]
fn is_overwritten_detects_a_lapping_producer() {
    let q = Queue::<u64>::new(4).unwrap();
    q.push(1).unwrap();
    let mut c = 0;
    let r = q.read(&mut c).unwrap();
    let v = r.value();
    assert!(!r.is_overwritten());
    assert_eq!(v, 1);
    for v in 2..6 {
        q.push(v).unwrap(); // index 4 reuses position 0
    }
    assert!(r.is_overwritten(), "index 4 was reserved over the record's position");
    assert_eq!(r.value(), 5, "the ring now holds the newer value");
}

#[test]
fn reset_with_a_stale_reader() {
    let q = Queue::<u64>::with_options(8, &Options::new().reset_check(true)).unwrap();
    for v in 0..5 {
        q.push(v).unwrap();
    }
    let mut stale = 0;
    drain(&q, &mut stale);
    assert_eq!(stale, 5);
    q.reset();
    assert_eq!(q.initial_reading_index(), 0);
    assert!(q.read_last().unwrap().is_none());
    q.push(100).unwrap();
    q.push(101).unwrap();
    // The stale cursor (5) is past the write index (2): it rewinds to 0.
    let got: Vec<u64> = drain(&q, &mut stale).into_iter().map(|(_, v)| v[0]).collect();
    assert_eq!(got, vec![100, 101]);
    // Shared cursors rewind too.
    q.reset();
    q.push(7).unwrap();
    let shared = AtomicU64::new(40);
    assert_eq!(q.read_shared(&shared).unwrap().value(), 7);
}

#[test]
fn reset_without_reset_check_leaves_a_stale_reader_waiting() {
    let q = Queue::<u64>::new(8).unwrap();
    q.push(1).unwrap();
    q.push(2).unwrap();
    let mut c = 0;
    drain(&q, &mut c);
    q.reset();
    q.push(3).unwrap();
    assert!(q.read(&mut c).is_none(), "cursor 2 waits for index 2 of the new generation");
    q.push(4).unwrap();
    q.push(5).unwrap();
    assert_eq!(q.read(&mut c).unwrap().value(), 5);
}

#[test]
fn read_last_after_wrapping_masks_the_index() {
    let q = Queue::<u64>::new(4).unwrap();
    assert!(q.read_last().unwrap().is_none());
    for v in 0..11 {
        q.push(v * 10).unwrap();
    }
    let r = q.read_last().unwrap().unwrap();
    assert_eq!((r.index(), r.value()), (10, 100), "index 10 lives in slot 10 & 3 = 2");
    q.push_slice(&[1, 2, 3]).unwrap(); // 11 + 3 > 12: wraps to 12
    let r = q.read_last().unwrap().unwrap();
    assert_eq!((r.index(), r.to_vec()), (12, vec![1, 2, 3]));
}

#[test]
fn read_last_disabled_is_an_error() {
    let q = Queue::<u64>::with_options(4, &Options::new().read_last(false)).unwrap();
    q.push(1).unwrap();
    assert!(matches!(q.read_last(), Err(Error::ReadLastDisabled)));
}

#[test]
fn initial_reading_index_skips_history() {
    let q = Queue::<u64>::new(8).unwrap();
    q.push(1).unwrap();
    q.push_slice(&[2, 3]).unwrap();
    let mut c = q.initial_reading_index();
    assert_eq!(c, 3);
    assert!(q.read(&mut c).is_none());
    q.push(4).unwrap();
    assert_eq!(q.read(&mut c).unwrap().value(), 4);
}

#[test]
fn work_stealing_cursor_hands_each_record_out_once() {
    let q = Queue::<u64>::new(16).unwrap();
    for v in 0..6 {
        q.push(v).unwrap();
    }
    q.push_slice(&[6, 7]).unwrap();
    let shared = AtomicU64::new(0);
    let mut got = Vec::new();
    while let Some(r) = q.read_shared(&shared) {
        got.push(r.to_vec());
    }
    assert_eq!(got.len(), 7);
    assert_eq!(got.concat(), (0..8).collect::<Vec<_>>());
    assert_eq!(shared.load(std::sync::atomic::Ordering::Relaxed), 8);
}

#[test]
fn work_stealing_follows_wrap_markers_and_counts_loss() {
    let q = Queue::<u64>::new(8).unwrap();
    q.push_slice(&[1; 6]).unwrap();
    let shared = AtomicU64::new(0);
    assert_eq!(q.read_shared(&shared).unwrap().len(), 6);
    q.push_slice(&[2; 3]).unwrap(); // wraps to 8
    let r = q.read_shared(&shared).unwrap();
    assert_eq!((r.index(), r.len()), (8, 3));
    for v in 0..20 {
        q.push(v).unwrap();
    }
    let r = q.read_shared(&shared).unwrap();
    assert!(r.index() > 11);
    assert_eq!(q.loss_count(), r.index() - 11);
}

#[test]
fn byte_queue_records_span_elements() {
    let q = ByteQueue::new(16, 4).unwrap();
    let i = q.push(b"hello world").unwrap(); // 11 bytes -> 3 elements
    assert_eq!(i, 0);
    let j = q.reserve(2).unwrap();
    q.write_at(j, 5, b"xyz").unwrap();
    q.write(j, b"abcde").unwrap();
    q.publish(j, 2).unwrap();
    let mut c = 0;
    let r = q.read(&mut c).unwrap();
    assert_eq!((r.len(), r.byte_len()), (3, 12));
    assert_eq!(r.to_vec(), b"hello world\0", "push zero-fills the last element");
    let mut part = [0u8; 4];
    assert_eq!(r.copy_from_offset(6, &mut part), 4);
    assert_eq!(&part, b"worl");
    let r = q.read(&mut c).unwrap();
    assert_eq!(&r.to_vec(), b"abcdexyz");
    assert!(matches!(q.write_at(14, 5, b"abcd"), Err(Error::OutOfRange { .. })));
    assert!(matches!(q.write(15, b"abcde"), Err(Error::OutOfRange { .. })));
    assert!(matches!(q.push(&[0u8; 65]), Err(Error::TooManyElements { n: 17, size: 16 })));
    let r = q.push(b"").unwrap();
    assert_eq!(q.read(&mut c).map(|r| (r.index(), r.to_vec())), Some((r, vec![0; 4])));
}

#[test]
fn element_pointer_is_a_zero_copy_view() {
    let q = ByteQueue::new(8, 16).unwrap();
    let i = q.reserve(1).unwrap();
    let p = q.element_ptr(i);
    assert!(!p.is_null());
    // SAFETY: `p` points at the 16 bytes of element `i`, reserved by this
    // thread and not yet published, so nothing else accesses them.
    unsafe { std::ptr::copy_nonoverlapping(b"zero-copy write!".as_ptr(), p, 16) };
    q.publish(i, 1).unwrap();
    let mut c = 0;
    assert_eq!(q.read(&mut c).unwrap().to_vec(), b"zero-copy write!");
    assert_eq!(q.element_ptr(i + 8), p, "indices are taken modulo the capacity");
}

#[test]
fn read_timeout_waits_then_gives_up() {
    let q = Queue::<u64>::new(8).unwrap();
    let mut c = 0;
    assert!(q.read_timeout(&mut c, Duration::from_millis(5)).is_none());
    q.push(9).unwrap();
    assert_eq!(q.read_timeout(&mut c, Duration::from_secs(5)).unwrap().value(), 9);
    let shared = AtomicU64::new(0);
    assert_eq!(q.read_shared_timeout(&shared, Duration::from_secs(5)).unwrap().value(), 9);
    assert!(q.read_shared_timeout(&shared, Duration::from_millis(2)).is_none());
}

#[test]
fn accessors_and_local_mode_facts() {
    let q = Queue::<[u8; 24]>::with_options(32, &Options::new().items_per_slot(2)).unwrap();
    assert_eq!((q.capacity(), q.element_size(), q.items_per_slot(), q.slot_count()), (32, 24, 2, 16));
    assert!(!q.is_shared());
    assert!(q.is_creator());
    assert_eq!(q.name(), None);
    assert!(matches!(q.remove_shm(), Err(Error::NotShared)));
    assert_eq!(q.options().get_items_per_slot(), Some(2));
    assert!(q.options().get_read_last());
    assert_eq!(q.corrupt_count(), 0);
    q.push([7; 24]).unwrap();
    let mut c = 0;
    assert_eq!(q.read(&mut c).unwrap().value(), [7; 24]);
}

#[test]
fn typed_records_copy_by_element() {
    #[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
    #[repr(C)]
    struct Tick {
        price: f64,
        qty: u32,
        side: u32,
    }
    let q = Queue::<Tick>::new(8).unwrap();
    let ticks = [Tick { price: 1.5, qty: 3, side: 0 }, Tick { price: 2.5, qty: 4, side: 1 }];
    q.push_slice(&ticks).unwrap();
    let mut c = 0;
    let r = q.read(&mut c).unwrap();
    assert_eq!(r.get(1), Some(ticks[1]));
    assert_eq!(r.get(2), None);
    let mut out = [Tick { price: 0.0, qty: 0, side: 0 }; 1];
    assert_eq!(r.copy_to(&mut out), 1);
    assert_eq!(out[0], ticks[0]);
}
