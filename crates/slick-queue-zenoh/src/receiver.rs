//! The receiving end: a subscriber writing each record, whole, into a local
//! queue.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use slick_queue::ByteQueue;
use zenoh::Wait;

use crate::error::{zerr, BridgeError};
use crate::frame::{decode_header, decode_records, Header};

/// A receiver's running counts. Loss is in elements, like the queue's own
/// `loss_count`, and counts only what was published after this receiver
/// took in its first message from a sender.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReceiverStats {
    /// Zenoh messages taken in.
    pub messages: u64,
    /// Records written into the local queue.
    pub records: u64,
    /// Elements written into the local queue.
    pub elements: u64,
    /// Record bytes written into the local queue.
    pub bytes: u64,
    /// Records published by a sender that never arrived (dropped by Zenoh
    /// under congestion, or while this receiver was not subscribed).
    pub lost_network_records: u64,
    /// Elements of those records.
    pub lost_network: u64,
    /// Elements the senders' own cursors lost on their source rings.
    pub lost_sender: u64,
    /// Records the local queue could not hold (larger than its capacity).
    pub rejected_records: u64,
    /// Messages that were not well-formed bridge messages (ignored).
    pub malformed: u64,
    /// Messages older than one already taken in from the same sender
    /// (ignored: a record is never written twice).
    pub stale: u64,
    /// Sender runs seen (a restarted sender is a new run).
    pub senders: u64,
}

impl ReceiverStats {
    /// Elements lost end to end: by the senders' cursors plus between the
    /// senders and this receiver.
    pub fn lost(&self) -> u64 {
        self.lost_sender + self.lost_network
    }
}

/// What the receiver remembers about one sender run.
#[derive(Debug, Clone, Copy)]
struct Run {
    next_seq: u64,
    next_elements: u64,
    first_sender_loss: u64,
    last_sender_loss: u64,
    last_seen: u64,
}

/// The most sender runs remembered at once (the least recently heard from
/// is forgotten first).
const MAX_RUNS: usize = 64;

struct State {
    stats: ReceiverStats,
    runs: HashMap<u64, Run>,
    fatal: Option<BridgeError>,
    last_malformed: Option<BridgeError>,
}

struct Shared {
    queue: ByteQueue,
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the counters invalid
        // (they are plain numbers): keep going with them.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn take(&self, msg: &[u8]) {
        let mut st = self.lock();
        if st.fatal.is_some() {
            return;
        }
        let h = match decode_header(msg) {
            Ok(h) => h,
            Err(e) => {
                st.stats.malformed += 1;
                st.last_malformed = Some(e);
                return;
            }
        };
        let local = self.queue.element_size();
        if h.element_size != local {
            st.fatal = Some(BridgeError::ElementSize { sender: h.element_size, local });
            return;
        }
        let records = match decode_records(&h, msg) {
            Ok(r) => r,
            Err(e) => {
                st.stats.malformed += 1;
                st.last_malformed = Some(e);
                return;
            }
        };
        st.stats.messages += 1;
        let tick = st.stats.messages;
        let msg_elements = records.iter().map(|r| u64::from(r.elements)).sum();
        if !account(&mut st, &h, msg_elements, tick) {
            st.stats.stale += 1;
            return;
        }
        for r in &records {
            match write(&self.queue, r.elements, r.bytes) {
                Ok(()) => {
                    st.stats.records += 1;
                    st.stats.elements += u64::from(r.elements);
                    st.stats.bytes += r.bytes.len() as u64;
                }
                Err(_) => st.stats.rejected_records += 1,
            }
        }
    }
}

/// Updates the loss accounting for message `h`; `false` if the message is
/// stale (already covered by a later one of the same run).
fn account(st: &mut State, h: &Header, msg_elements: u64, tick: u64) -> bool {
    match st.runs.get_mut(&h.session) {
        Some(run) => {
            if h.seq < run.next_seq {
                return false;
            }
            let gap_records = h.seq - run.next_seq;
            let gap_elements = h.sent_elements.saturating_sub(run.next_elements);
            st.stats.lost_network_records = st.stats.lost_network_records.saturating_add(gap_records);
            st.stats.lost_network = st.stats.lost_network.saturating_add(gap_elements);
            if h.sender_loss > run.last_sender_loss {
                st.stats.lost_sender = st.stats.lost_sender.saturating_add(h.sender_loss - run.last_sender_loss);
                run.last_sender_loss = h.sender_loss;
            }
            run.last_seen = tick;
            run.next_seq = h.seq.saturating_add(u64::from(h.record_count));
            run.next_elements = h.sent_elements.saturating_add(msg_elements);
        }
        None => {
            if st.runs.len() >= MAX_RUNS {
                if let Some(oldest) = st.runs.iter().min_by_key(|(_, r)| r.last_seen).map(|(k, _)| *k) {
                    st.runs.remove(&oldest);
                }
            }
            st.stats.senders += 1;
            st.runs.insert(
                h.session,
                Run {
                    next_seq: h.seq.saturating_add(u64::from(h.record_count)),
                    next_elements: h.sent_elements.saturating_add(msg_elements),
                    first_sender_loss: h.sender_loss,
                    last_sender_loss: h.sender_loss,
                    last_seen: tick,
                },
            );
        }
    }
    true
}

fn write(q: &ByteQueue, elements: u32, bytes: &[u8]) -> Result<(), slick_queue::Error> {
    let i = q.reserve(elements)?;
    q.write(i, bytes)?;
    q.publish(i, elements)
}

/// Subscribes to a key expression and writes every record received into a
/// local queue. The work happens on Zenoh's threads; this handle reads the
/// counts and any fatal error, and unsubscribes when dropped or closed.
pub struct Receiver {
    shared: Arc<Shared>,
    subscriber: Option<zenoh::pubsub::Subscriber<()>>,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver").field("stats", &self.stats()).finish()
    }
}

impl Receiver {
    /// Subscribes to `key` through `session`, writing into `queue`.
    pub fn new(session: &zenoh::Session, key: &str, queue: ByteQueue) -> Result<Receiver, BridgeError> {
        let shared = Arc::new(Shared {
            queue,
            state: Mutex::new(State {
                stats: ReceiverStats::default(),
                runs: HashMap::new(),
                fatal: None,
                last_malformed: None,
            }),
        });
        let s = Arc::clone(&shared);
        let subscriber = session
            .declare_subscriber(key.to_owned())
            .callback(move |sample| {
                let payload = sample.payload().to_bytes();
                s.take(&payload);
            })
            .wait()
            .map_err(zerr)?;
        Ok(Receiver { shared, subscriber: Some(subscriber) })
    }

    /// The running counts.
    pub fn stats(&self) -> ReceiverStats {
        self.shared.lock().stats
    }

    /// The error that stopped this receiver, if any (an element size
    /// mismatch): from then on it writes nothing.
    pub fn error(&self) -> Option<BridgeError> {
        self.shared.lock().fatal.clone()
    }

    /// Why the last malformed message was ignored, if one was.
    pub fn last_malformed(&self) -> Option<BridgeError> {
        self.shared.lock().last_malformed.clone()
    }

    /// Elements the senders had already lost before this receiver first
    /// heard from them (not counted in [`ReceiverStats::lost_sender`]).
    pub fn sender_loss_before_join(&self) -> u64 {
        self.shared.lock().runs.values().map(|r| r.first_sender_loss).sum()
    }

    /// The local queue.
    pub fn queue(&self) -> &ByteQueue {
        &self.shared.queue
    }

    /// Unsubscribes (what is in flight is discarded).
    pub fn close(mut self) -> Result<ReceiverStats, BridgeError> {
        if let Some(s) = self.subscriber.take() {
            s.undeclare().wait().map_err(zerr)?;
        }
        Ok(self.stats())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Encoder;

    fn shared(es: u32) -> Shared {
        Shared {
            queue: ByteQueue::new(64, es).unwrap(),
            state: Mutex::new(State {
                stats: ReceiverStats::default(),
                runs: HashMap::new(),
                fatal: None,
                last_malformed: None,
            }),
        }
    }

    /// A message of run `session` with records `first..first+n` (one element
    /// each), sent after `seq` records.
    fn msg(session: u64, seq: u64, n: u64, sender_loss: u64, es: u32) -> Vec<u8> {
        let mut e = Encoder::new(es);
        for i in 0..n {
            e.push_with(seq + i, 1, |b| b.fill((seq + i) as u8));
        }
        e.finish(session, seq, seq, sender_loss).to_vec()
    }

    fn written(q: &ByteQueue) -> Vec<u8> {
        let mut c = 0;
        let mut out = Vec::new();
        while let Some(r) = q.read(&mut c) {
            out.push(r.to_vec()[0]);
        }
        out
    }

    #[test]
    fn gaps_in_the_counters_are_network_loss_and_old_messages_are_never_written() {
        let s = shared(4);
        s.take(&msg(1, 10, 2, 0, 4)); // joins at seq 10: nothing counted before
        s.take(&msg(1, 12, 1, 0, 4));
        s.take(&msg(1, 16, 2, 3, 4)); // 13..16 missing; the sender lost 3 more
        s.take(&msg(1, 12, 1, 3, 4)); // a repeat of an old message: stale
        let st = s.lock().stats;
        assert_eq!((st.records, st.lost_network_records, st.lost_network, st.lost_sender), (5, 3, 3, 3));
        assert_eq!((st.stale, st.senders, st.lost()), (1, 1, 6));
        assert_eq!(written(&s.queue), vec![10, 11, 12, 16, 17]);
        // A new run (restarted sender) starts its own accounting.
        s.take(&msg(2, 0, 1, 0, 4));
        let st = s.lock().stats;
        assert_eq!((st.senders, st.lost_network, st.records), (2, 3, 6));
    }

    #[test]
    fn a_mismatched_element_size_stops_the_receiver_before_anything_is_written() {
        let s = shared(8);
        s.take(&msg(1, 0, 3, 0, 4));
        assert!(matches!(s.lock().fatal, Some(BridgeError::ElementSize { sender: 4, local: 8 })));
        s.take(&msg(1, 3, 1, 0, 8)); // ignored after the error
        assert!(written(&s.queue).is_empty());
        assert_eq!(s.lock().stats.records, 0);
    }

    #[test]
    fn malformed_and_hostile_messages_are_counted_not_fatal() {
        let s = shared(4);
        s.take(b"garbage");
        let mut m = msg(1, 0, 2, 0, 4);
        m.truncate(m.len() - 1);
        s.take(&m);
        // Counters at the top of the range saturate instead of overflowing.
        s.take(&msg(9, u64::MAX - 1, 1, u64::MAX, 4));
        s.take(&msg(9, u64::MAX, 1, u64::MAX, 4));
        let st = s.lock().stats;
        assert_eq!(st.malformed, 2);
        assert!(s.lock().fatal.is_none());
        assert_eq!(st.records, 2);
    }
}
