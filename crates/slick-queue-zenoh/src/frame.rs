//! The bridge's message format: one Zenoh message carries one or more whole
//! records of one source queue, in source order, with the counters the
//! receiver needs to account for loss.
//!
//! All integers are little-endian. A message is a 48-byte header followed
//! by `record_count` records:
//!
//! ```text
//! offset size field
//!      0    4 magic         b"SQZB"
//!      4    1 version       1
//!      5    1 flags         0 (reserved; a receiver rejects other values)
//!      6    2 reserved      0
//!      8    4 element_size  the source queue's element size in bytes
//!     12    4 record_count  records in this message (at least 1)
//!     16    8 session       random id of this sender run
//!     24    8 seq           records the session sent before this message
//!     32    8 sent_elements elements the session sent before this message
//!     40    8 sender_loss   elements the sender's own cursor has lost so far
//!                           (lapped by the source queue's producers, or
//!                           torn while copied), as of this message
//! then per record:
//!      0    8 index         the record's index in the source queue
//!      8    4 elements      its element count (n >= 1)
//!     12    n*element_size  its bytes, whole elements
//! ```
//!
//! The running counters make loss exact: a receiver that has taken in `r`
//! records and `e` elements of a session since its first message from it
//! knows that `seq - r` records and `sent_elements - e` elements were
//! published but never reached it (dropped by Zenoh under congestion, or
//! while it was away), and `sender_loss` says how many the sender itself
//! never saw.

use crate::error::BridgeError;

/// The first four bytes of every message.
pub const MAGIC: [u8; 4] = *b"SQZB";
/// The format version this crate writes and reads.
pub const VERSION: u8 = 1;
/// Bytes before the first record.
pub const HEADER_LEN: usize = 48;
/// Bytes before each record's payload.
pub const RECORD_HEADER_LEN: usize = 12;

/// The per-message fields (everything but the records).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The source queue's element size.
    pub element_size: u32,
    /// Records in the message.
    pub record_count: u32,
    /// The sending run's random id.
    pub session: u64,
    /// Records the session sent before this message.
    pub seq: u64,
    /// Elements the session sent before this message.
    pub sent_elements: u64,
    /// The sender's own running loss (elements), as of this message.
    pub sender_loss: u64,
}

/// Builds messages record by record into one reusable buffer.
#[derive(Debug)]
pub struct Encoder {
    buf: Vec<u8>,
    element_size: u32,
    records: u32,
    elements: u64,
}

impl Encoder {
    /// An empty encoder for a queue of `element_size`-byte elements.
    pub fn new(element_size: u32) -> Encoder {
        Encoder { buf: Vec::with_capacity(64 * 1024), element_size, records: 0, elements: 0 }
    }

    /// Records in the message being built.
    pub fn records(&self) -> u32 {
        self.records
    }

    /// Elements in the message being built.
    pub fn elements(&self) -> u64 {
        self.elements
    }

    /// Bytes of the message being built.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether no record has been added yet.
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// Appends one record: `elements` elements whose bytes `fill` copies into
    /// the slice it is given (exactly `elements * element_size` bytes).
    /// Returns what `fill` returned.
    pub fn push_with<R>(&mut self, index: u64, elements: u32, fill: impl FnOnce(&mut [u8]) -> R) -> R {
        if self.buf.is_empty() {
            self.buf.resize(HEADER_LEN, 0);
        }
        let bytes = elements as usize * self.element_size as usize;
        let start = self.buf.len();
        self.buf.extend_from_slice(&index.to_le_bytes());
        self.buf.extend_from_slice(&elements.to_le_bytes());
        self.buf.resize(start + RECORD_HEADER_LEN + bytes, 0);
        self.records += 1;
        self.elements += u64::from(elements);
        fill(&mut self.buf[start + RECORD_HEADER_LEN..])
    }

    /// Removes the record added last (its bytes turned out torn).
    pub fn pop_last(&mut self, elements: u32) {
        let bytes = elements as usize * self.element_size as usize;
        self.buf.truncate(self.buf.len() - bytes - RECORD_HEADER_LEN);
        self.records -= 1;
        self.elements -= u64::from(elements);
        if self.records == 0 {
            self.buf.clear();
        }
    }

    /// Writes the header and returns the finished message; the encoder is
    /// empty again after [`Encoder::clear`].
    pub fn finish(&mut self, session: u64, seq: u64, sent_elements: u64, sender_loss: u64) -> &[u8] {
        let h = &mut self.buf[..HEADER_LEN];
        h[0..4].copy_from_slice(&MAGIC);
        h[4] = VERSION;
        h[5] = 0;
        h[6..8].copy_from_slice(&[0, 0]);
        h[8..12].copy_from_slice(&self.element_size.to_le_bytes());
        h[12..16].copy_from_slice(&self.records.to_le_bytes());
        h[16..24].copy_from_slice(&session.to_le_bytes());
        h[24..32].copy_from_slice(&seq.to_le_bytes());
        h[32..40].copy_from_slice(&sent_elements.to_le_bytes());
        h[40..48].copy_from_slice(&sender_loss.to_le_bytes());
        &self.buf
    }

    /// Empties the encoder for the next message (keeps the allocation).
    pub fn clear(&mut self) {
        self.buf.clear();
        self.records = 0;
        self.elements = 0;
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(w)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

/// Parses and validates a message's header.
pub fn decode_header(msg: &[u8]) -> Result<Header, BridgeError> {
    if msg.len() < HEADER_LEN {
        return Err(BridgeError::Malformed(format!(
            "{} bytes is shorter than the {HEADER_LEN}-byte header",
            msg.len()
        )));
    }
    if msg[0..4] != MAGIC {
        return Err(BridgeError::Malformed("not a slick-queue bridge message (bad magic)".into()));
    }
    if msg[4] != VERSION {
        return Err(BridgeError::Malformed(format!(
            "message format version {} (this build reads version {VERSION})",
            msg[4]
        )));
    }
    if msg[5] != 0 {
        return Err(BridgeError::Malformed(format!("unknown flags {:#04x}", msg[5])));
    }
    let h = Header {
        element_size: u32_at(msg, 8),
        record_count: u32_at(msg, 12),
        session: u64_at(msg, 16),
        seq: u64_at(msg, 24),
        sent_elements: u64_at(msg, 32),
        sender_loss: u64_at(msg, 40),
    };
    if h.element_size == 0 {
        return Err(BridgeError::Malformed("element size 0".into()));
    }
    if h.record_count == 0 {
        return Err(BridgeError::Malformed("no records".into()));
    }
    Ok(h)
}

/// One record of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordRef<'m> {
    /// Its index in the source queue.
    pub index: u64,
    /// Its element count.
    pub elements: u32,
    /// Its bytes (`elements * element_size`).
    pub bytes: &'m [u8],
}

/// Splits a message's body into its records, checking every length before
/// anything is used: either the whole message is well formed, or an error.
pub fn decode_records<'m>(h: &Header, msg: &'m [u8]) -> Result<Vec<RecordRef<'m>>, BridgeError> {
    let mut out = Vec::with_capacity(h.record_count as usize);
    let mut at = HEADER_LEN;
    let mut last_index = None;
    for i in 0..h.record_count {
        if msg.len() - at < RECORD_HEADER_LEN {
            return Err(BridgeError::Malformed(format!("record {i} of {} is cut short", h.record_count)));
        }
        let index = u64_at(msg, at);
        let elements = u32_at(msg, at + 8);
        if elements == 0 {
            return Err(BridgeError::Malformed(format!("record {i} has no elements")));
        }
        if last_index.is_some_and(|l| index <= l) {
            return Err(BridgeError::Malformed(format!("record {i} is out of source order")));
        }
        last_index = Some(index);
        let bytes = u64::from(elements) * u64::from(h.element_size);
        let start = at + RECORD_HEADER_LEN;
        if ((msg.len() - start) as u64) < bytes {
            return Err(BridgeError::Malformed(format!(
                "record {i} claims {elements} elements of {} bytes but the message ends first",
                h.element_size
            )));
        }
        let end = start + bytes as usize;
        out.push(RecordRef { index, elements, bytes: &msg[start..end] });
        at = end;
    }
    if at != msg.len() {
        return Err(BridgeError::Malformed(format!("{} trailing bytes after the last record", msg.len() - at)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut e = Encoder::new(4);
        e.push_with(10, 1, |b| b.copy_from_slice(b"abcd"));
        e.push_with(11, 2, |b| b.copy_from_slice(b"efghijkl"));
        e.finish(7, 100, 300, 5).to_vec()
    }

    #[test]
    fn round_trip_keeps_records_whole_and_in_order() {
        let m = sample();
        let h = decode_header(&m).unwrap();
        assert_eq!(
            h,
            Header { element_size: 4, record_count: 2, session: 7, seq: 100, sent_elements: 300, sender_loss: 5 }
        );
        let r = decode_records(&h, &m).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].index, r[0].elements, r[0].bytes), (10, 1, &b"abcd"[..]));
        assert_eq!((r[1].index, r[1].elements, r[1].bytes), (11, 2, &b"efghijkl"[..]));
        assert_eq!(m.len(), HEADER_LEN + 2 * RECORD_HEADER_LEN + 12);
    }

    #[test]
    fn pop_last_drops_only_the_last_record() {
        let mut e = Encoder::new(4);
        e.push_with(1, 1, |b| b.copy_from_slice(b"abcd"));
        e.push_with(2, 1, |b| b.copy_from_slice(b"wxyz"));
        e.pop_last(1);
        assert_eq!((e.records(), e.elements()), (1, 1));
        let m = e.finish(1, 0, 0, 0).to_vec();
        let h = decode_header(&m).unwrap();
        let r = decode_records(&h, &m).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].bytes, b"abcd");
        e.clear();
        e.push_with(3, 1, |b| b.copy_from_slice(b"1234"));
        e.pop_last(1);
        assert!(e.is_empty());
        assert_eq!(e.len(), 0);
    }

    #[test]
    fn every_truncation_and_corruption_is_an_error_not_a_panic() {
        let m = sample();
        for cut in 0..m.len() {
            let part = &m[..cut];
            let res = decode_header(part).and_then(|h| decode_records(&h, part));
            assert!(res.is_err(), "a message cut to {cut} bytes was accepted");
        }
        let mut long = m.clone();
        long.push(0);
        let h = decode_header(&long).unwrap();
        assert!(decode_records(&h, &long).is_err());
        for (at, val) in [(0usize, b'X'), (4, 9), (5, 1), (8, 0), (12, 0)] {
            let mut bad = m.clone();
            if at == 8 || at == 12 {
                bad[at..at + 4].copy_from_slice(&[0; 4]);
            } else {
                bad[at] = val;
            }
            assert!(decode_header(&bad).is_err(), "corrupting byte {at} was accepted");
        }
        // A huge element count must not overflow or allocate.
        let mut huge = m.clone();
        huge[HEADER_LEN + 8..HEADER_LEN + 12].copy_from_slice(&u32::MAX.to_le_bytes());
        let h = decode_header(&huge).unwrap();
        assert!(decode_records(&h, &huge).is_err());
        // Out-of-order indices inside one message are refused.
        let mut e = Encoder::new(1);
        e.push_with(5, 1, |b| b[0] = 1);
        e.push_with(5, 1, |b| b[0] = 2);
        let m2 = e.finish(1, 0, 0, 0).to_vec();
        let h2 = decode_header(&m2).unwrap();
        assert!(decode_records(&h2, &m2).is_err());
    }
}
