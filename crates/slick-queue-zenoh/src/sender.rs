//! The sending end: a private cursor on a local queue, records published on
//! a key expression.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use slick_queue::ByteQueue;
use zenoh::qos::CongestionControl;
use zenoh::Wait;

use crate::error::{zerr, BridgeError};
use crate::frame::Encoder;

/// How [`Sender::poll`] waits for the first record of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdleWait {
    /// The queue's own wait (`ByteQueue::read_timeout`): spin briefly, then
    /// sleep on the queue's doorbell, which a publish by our producers rings
    /// (a wake-up within microseconds, next to no CPU when idle); records of
    /// producers that do not ring are seen within the queue's poll interval.
    #[default]
    Backoff,
    /// Re-check the queue continuously, yielding the CPU between checks:
    /// the lowest latency, one core kept busy.
    BusyPoll,
}

/// What a [`Sender`] does.
#[derive(Debug, Clone)]
pub struct SenderOptions {
    /// The key expression to publish on.
    pub key: String,
    /// Where the sender's cursor starts: `None` (the default) at the live
    /// end, the next record published (a restarted sender never repeats
    /// what an earlier run sent); `Some(0)` with the oldest lap still in the
    /// ring (what producers already overwrote is counted as lost); or any
    /// other index of the source queue.
    pub start_index: Option<u64>,
    /// Block (Zenoh's `CongestionControl::Block`) instead of dropping
    /// messages when the network or a receiver cannot keep up. Either way
    /// the queue's producers never wait: a blocked sender falls behind on
    /// its ring and its own losses are counted.
    pub reliable: bool,
    /// The most record bytes one message carries when several records are
    /// waiting (a single larger record still goes alone, whole).
    pub max_batch_bytes: usize,
    /// How to wait for records when the queue is idle.
    pub idle: IdleWait,
}

impl SenderOptions {
    /// Defaults for `key`: live end, drop under congestion, 32 KiB batches,
    /// backoff waiting.
    pub fn new(key: impl Into<String>) -> SenderOptions {
        SenderOptions {
            key: key.into(),
            start_index: None,
            reliable: false,
            max_batch_bytes: 32 * 1024,
            idle: IdleWait::Backoff,
        }
    }
}

/// A sender's running counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SenderStats {
    /// Records published.
    pub records: u64,
    /// Elements published.
    pub elements: u64,
    /// Record bytes published.
    pub bytes: u64,
    /// Zenoh messages published.
    pub messages: u64,
    /// Elements this sender's cursor lost: the source queue's producers
    /// lapped it, or a record was overwritten while it was being copied.
    pub lost: u64,
    /// Whether a subscriber matches the key expression (as of the last
    /// [`Sender::refresh_matching`]).
    pub matched: bool,
}

/// Reads a local queue with its own cursor and publishes its records.
pub struct Sender {
    queue: ByteQueue,
    publisher: zenoh::pubsub::Publisher<'static>,
    cursor: u64,
    session: u64,
    enc: Encoder,
    max_batch_bytes: usize,
    idle: IdleWait,
    torn: u64,
    stats: SenderStats,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender").field("cursor", &self.cursor).field("stats", &self.stats).finish()
    }
}

/// A run id that differs between two runs of the same sender: time, process
/// id and an address mixed (splitmix64).
fn session_id() -> u64 {
    let t = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    let local = 0u8;
    let mut z = t ^ (u64::from(std::process::id()) << 32) ^ (&local as *const u8 as u64);
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Sender {
    /// A sender publishing `queue`'s records on `opts.key` through `session`.
    pub fn new(session: &zenoh::Session, queue: ByteQueue, opts: &SenderOptions) -> Result<Sender, BridgeError> {
        if opts.max_batch_bytes == 0 {
            return Err(BridgeError::Config("max_batch_bytes must be at least 1".into()));
        }
        let cc = if opts.reliable { CongestionControl::Block } else { CongestionControl::Drop };
        let publisher = session
            .declare_publisher(opts.key.clone())
            .congestion_control(cc)
            // A message is already a batch: let Zenoh send it at once.
            .express(true)
            .wait()
            .map_err(zerr)?;
        let cursor = opts.start_index.unwrap_or_else(|| queue.initial_reading_index());
        let enc = Encoder::new(queue.element_size());
        Ok(Sender {
            queue,
            publisher,
            cursor,
            session: session_id(),
            enc,
            max_batch_bytes: opts.max_batch_bytes,
            idle: opts.idle,
            torn: 0,
            stats: SenderStats::default(),
        })
    }

    /// The running counts.
    pub fn stats(&self) -> SenderStats {
        self.stats
    }

    /// The source queue.
    pub fn queue(&self) -> &ByteQueue {
        &self.queue
    }

    /// Where this sender's cursor is in the source queue.
    pub fn cursor(&self) -> u64 {
        self.cursor
    }

    /// Asks Zenoh whether a subscriber matches the key expression now (for
    /// status reports; [`SenderStats::matched`]).
    pub fn refresh_matching(&mut self) -> Result<bool, BridgeError> {
        let m = self.publisher.matching_status().wait().map_err(zerr)?.matching();
        self.stats.matched = m;
        Ok(m)
    }

    /// Publishes what is waiting: waits up to `wait` for a first record,
    /// then takes every record already published (up to the batch size)
    /// into one message. Returns the number of records published (0 when
    /// nothing arrived in time).
    pub fn poll(&mut self, wait: Duration) -> Result<usize, BridgeError> {
        let (idle, max_batch_bytes) = (self.idle, self.max_batch_bytes);
        let Sender { queue, cursor, enc, .. } = self;
        let first = match queue.read(cursor) {
            Some(r) => Some(r),
            None => match idle {
                IdleWait::Backoff => queue.read_timeout(cursor, wait),
                IdleWait::BusyPoll => {
                    let deadline = Instant::now() + wait;
                    loop {
                        if let Some(r) = queue.read(cursor) {
                            break Some(r);
                        }
                        if Instant::now() >= deadline {
                            break None;
                        }
                        std::thread::yield_now();
                    }
                }
            },
        };
        let Some(first) = first else { return Ok(0) };
        let mut torn = 0u64;
        let mut take = |rec: slick_queue::ByteRecord<'_>, enc: &mut Encoder| {
            let n = rec.len() as u32;
            enc.push_with(rec.index(), n, |dst| {
                rec.copy_to(dst);
            });
            // The bytes were copied while a producer may have been lapping
            // this cursor: a torn record is dropped and counted as lost.
            if rec.is_overwritten() {
                enc.pop_last(n);
                torn += u64::from(n);
            }
        };
        take(first, enc);
        while enc.len() < max_batch_bytes {
            match queue.read(cursor) {
                Some(r) => take(r, enc),
                None => break,
            }
        }
        self.torn += torn;
        let lost = queue.loss_count() + self.torn;
        self.stats.lost = lost;
        if enc.is_empty() {
            return Ok(0);
        }
        let records = enc.records();
        let elements = enc.elements();
        let bytes = elements * u64::from(queue.element_size());
        let msg = enc.finish(self.session, self.stats.records, self.stats.elements, lost).to_vec();
        enc.clear();
        let result = self.publisher.put(msg).wait().map_err(zerr);
        // Counted as sent either way: the next message's counters then tell
        // the receiver that these records never arrived.
        self.stats.records += u64::from(records);
        self.stats.elements += elements;
        self.stats.bytes += bytes;
        self.stats.messages += 1;
        result.map(|()| records as usize)
    }
}
