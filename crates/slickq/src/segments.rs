//! Finding and classifying the objects in /dev/shm: which are queues (by
//! their layout marker, never by name), which are healthy, half-initialised,
//! truncated or stale. Everything here reads through the core's
//! `inspect` module (read-only `pread`, never a mapping) and `fstat`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use slick_queue::inspect::{segment_info, SegmentInfo};
use slick_queue::layout::{
    FEATURE_ITEMS_PER_SLOT, FEATURE_READ_LAST, INIT_INITIALIZING, INIT_LEGACY, INIT_READY, INIT_UNINITIALIZED,
    KNOWN_FEATURES,
};
use slick_queue::{Error, HeaderSnapshot};

use crate::fail::{msg, Fail, Result};

/// Where POSIX shared-memory objects live on Linux.
pub const SHM_DIR: &str = "/dev/shm";

/// What an object in /dev/shm is, as far as its first 64 bytes and length say.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Ready (or legacy-initialised), valid geometry, long enough.
    Ok,
    /// Marker written, `init_state` 2: a creator has not finished.
    Initializing,
    /// Marker written but `init_state` 0.
    Uninitialized,
    /// Shorter than the header's geometry needs.
    Truncated,
    /// Marker present, header inconsistent.
    Corrupt,
    /// Marker with feature bits this tool does not know.
    Newer,
    /// No layout marker.
    Foreign,
    /// Shorter than the 64-byte header.
    Short,
    /// Could not be opened.
    Unreadable,
    /// The doorbell object of a queue (`<queue>.doorbell`): where idle
    /// readers of this project sleep. Not a queue; removed with its queue.
    Doorbell,
}

impl Status {
    /// The word shown in tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Initializing => "initializing",
            Status::Uninitialized => "uninitialized",
            Status::Truncated => "truncated",
            Status::Corrupt => "corrupt",
            Status::Newer => "newer",
            Status::Foreign => "foreign",
            Status::Short => "short",
            Status::Unreadable => "unreadable",
            Status::Doorbell => "doorbell",
        }
    }

    /// Whether the object carries the layout marker (is a queue, healthy or not).
    pub fn is_queue(self) -> bool {
        !matches!(self, Status::Foreign | Status::Short | Status::Unreadable | Status::Doorbell)
    }

    /// Whether a queue in this state becomes stale once older than the grace period.
    pub fn can_go_stale(self) -> bool {
        matches!(self, Status::Initializing | Status::Uninitialized | Status::Truncated)
    }
}

/// The decoded header of a queue, as shown by `ls --json` and `inspect --json`.
#[derive(Clone, Debug, Serialize)]
pub struct HeaderView {
    /// The marker word at offset 24, e.g. `0x534C5131`.
    pub magic: String,
    /// The marker as text, e.g. `SLQ1` (`?` for non-printable bytes).
    pub marker: String,
    /// Feature names from the marker's low nibble.
    pub features: Vec<String>,
    /// `init_state` at offset 48.
    pub init_state: u32,
    /// Its meaning.
    pub init_state_name: &'static str,
    /// `size`: capacity in elements.
    pub capacity: u32,
    /// `element_size` in bytes.
    pub element_size: u32,
    /// `items_per_slot` (0 on the wire reads as 1).
    pub items_per_slot: u32,
    /// The reservation word at offset 0, raw.
    pub reserved: u64,
    /// The next free element index (`reserved >> 16`).
    pub write_index: u64,
    /// Size of the last reservation (`reserved & 0xFFFF`).
    pub last_reservation: u32,
    /// The highest published index, `None` when nothing was published.
    pub last_published: Option<u64>,
    /// Control slots (`capacity / items_per_slot`), when the geometry is valid.
    pub slot_count: Option<u32>,
    /// Offset of the data array, when the geometry is valid.
    pub data_offset: Option<u64>,
    /// Bytes the geometry needs, when it is valid.
    pub needed_bytes: Option<u64>,
}

/// One object in /dev/shm and what it is.
#[derive(Clone, Debug, Serialize)]
pub struct Segment {
    /// The object name without its leading `/` (the file name in /dev/shm).
    pub name: String,
    /// Its classification.
    pub status: Status,
    /// Whether `rm --stale` would remove it (given the grace period used).
    pub stale: bool,
    /// Whether it carries the layout marker.
    pub is_queue: bool,
    /// Length of the object in bytes.
    pub bytes: u64,
    /// Permission bits, e.g. `0600`.
    pub mode: String,
    /// Owner's user id.
    pub uid: u32,
    /// Owner's user name (the uid when unknown).
    pub owner: String,
    /// Seconds since the object was last modified (for a queue: sized by its creator).
    pub age_secs: Option<f64>,
    /// Why the status is not `ok`, in words.
    pub note: Option<String>,
    /// The decoded header (queues only).
    pub header: Option<HeaderView>,
    /// Readers asleep on the queue's doorbell (queues with a doorbell
    /// object only; a reader that died asleep counts until a producer
    /// notices).
    pub sleeping_readers: Option<u32>,
}

/// Feature names of a marker nibble.
pub fn feature_names(features: u32) -> Vec<String> {
    let mut v = Vec::new();
    if features & FEATURE_READ_LAST != 0 {
        v.push("read_last".to_owned());
    }
    if features & FEATURE_ITEMS_PER_SLOT != 0 {
        v.push("items_per_slot".to_owned());
    }
    if features & !KNOWN_FEATURES != 0 {
        v.push(format!("unknown({:#x})", features & !KNOWN_FEATURES));
    }
    v
}

/// What an `init_state` value means.
pub fn init_state_name(state: u32) -> &'static str {
    match state {
        INIT_UNINITIALIZED => "uninitialized",
        INIT_LEGACY => "legacy",
        INIT_INITIALIZING => "initializing",
        INIT_READY => "ready",
        _ => "invalid",
    }
}

/// The marker word as the four bytes a hex dump shows (`SLQ1`).
pub fn marker_text(magic: u32) -> String {
    magic.to_be_bytes().iter().map(|&b| if b.is_ascii_graphic() { b as char } else { '?' }).collect()
}

/// Decodes a header for display.
pub fn header_view(h: &HeaderSnapshot) -> HeaderView {
    let geometry = h.validate().ok();
    HeaderView {
        magic: format!("{:#010X}", h.magic),
        marker: marker_text(h.magic),
        features: if h.has_marker() { feature_names(h.features()) } else { Vec::new() },
        init_state: h.init_state,
        init_state_name: init_state_name(h.init_state),
        capacity: h.size,
        element_size: h.element_size,
        items_per_slot: h.items_per_slot(),
        reserved: h.reserved,
        write_index: h.write_index(),
        last_reservation: slick_queue::layout::reserved_size(h.reserved),
        last_published: (h.last_published != slick_queue::layout::EMPTY_INDEX).then_some(h.last_published),
        slot_count: geometry.map(|g| g.slot_count()),
        data_offset: geometry.map(|g| g.data_offset() as u64),
        needed_bytes: geometry.map(|g| g.segment_len() as u64),
    }
}

/// Classifies an object from its length and (when it has one) its header.
pub fn classify(len: u64, header: Option<&HeaderSnapshot>) -> (Status, Option<String>) {
    let Some(h) = header else {
        let note = match len {
            0 => "empty (0 bytes): not sized yet, or not a queue".to_owned(),
            8 => "8 bytes: the size of a work-stealing cursor object".to_owned(),
            n => format!("{n} bytes: shorter than the 64-byte header"),
        };
        return (Status::Short, Some(note));
    };
    if !h.has_marker() {
        return (Status::Foreign, Some(format!("no layout marker at offset 24 (found {:#010X})", h.magic)));
    }
    if h.features() & !KNOWN_FEATURES != 0 {
        return (
            Status::Newer,
            Some(format!("made by a newer peer: unknown feature bits {:#x}", h.features() & !KNOWN_FEATURES)),
        );
    }
    match h.init_state {
        INIT_INITIALIZING => {
            return (Status::Initializing, Some("init_state 2: its creator has not finished initialising it".into()))
        }
        INIT_UNINITIALIZED => {
            return (Status::Uninitialized, Some("init_state 0 although the layout marker is written".into()))
        }
        INIT_LEGACY if h.size == 0 || h.element_size == 0 => {
            return (Status::Corrupt, Some("legacy init_state 1 with a zero size or element size".into()))
        }
        INIT_READY | INIT_LEGACY => {}
        other => return (Status::Corrupt, Some(format!("init_state {other}, which no peer writes"))),
    }
    match h.validate() {
        Err(e) => (Status::Corrupt, Some(e.to_string())),
        Ok(g) if len < g.segment_len() as u64 => {
            (Status::Truncated, Some(format!("{len} bytes long but its geometry needs {} bytes", g.segment_len())))
        }
        Ok(_) => (Status::Ok, None),
    }
}

/// The user names of `/etc/passwd`, by uid.
pub struct Owners(HashMap<u32, String>);

impl Owners {
    /// Reads `/etc/passwd` (no names if it cannot be read).
    pub fn load() -> Owners {
        let mut map = HashMap::new();
        if let Ok(text) = std::fs::read_to_string("/etc/passwd") {
            for line in text.lines() {
                let mut f = line.split(':');
                if let (Some(name), Some(_), Some(uid)) = (f.next(), f.next(), f.next()) {
                    if let Ok(uid) = uid.parse() {
                        map.entry(uid).or_insert_with(|| name.to_owned());
                    }
                }
            }
        }
        Owners(map)
    }

    /// The user name of `uid`, or the number.
    pub fn name(&self, uid: u32) -> String {
        self.0.get(&uid).cloned().unwrap_or_else(|| uid.to_string())
    }
}

fn age_of(path: &PathBuf) -> Option<Duration> {
    let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok()?;
    Some(SystemTime::now().duration_since(modified).unwrap_or(Duration::ZERO))
}

/// The queue whose doorbell object `bare` is, if it looks like one (the
/// name suffix and the length of a doorbell object; the caller also checks
/// its identification word).
pub fn doorbell_of(bare: &str, len: u64) -> Option<&str> {
    let queue = bare.strip_suffix(slick_queue::DOORBELL_SUFFIX)?;
    (!queue.is_empty() && len == slick_queue::DOORBELL_LEN).then_some(queue)
}

/// Whether the object `bare` carries a doorbell's identification word.
fn has_doorbell_magic(bare: &str) -> bool {
    let mut b = [0u8; 8];
    matches!(slick_queue::inspect::read_bytes(bare, slick_queue::DOORBELL_MAGIC_OFFSET, &mut b), Ok(8))
        && u64::from_ne_bytes(b) == slick_queue::DOORBELL_MAGIC
}

fn from_info(info: SegmentInfo, owners: &Owners, grace: Duration) -> Segment {
    let bare = info.name.strip_prefix('/').unwrap_or(&info.name).to_owned();
    let age = age_of(&PathBuf::from(SHM_DIR).join(&bare));
    if let Some(queue) = doorbell_of(&bare, info.len).filter(|_| has_doorbell_magic(&bare)) {
        // A doorbell whose queue is gone (removed by a tool that does not
        // know doorbells) is stale once past the grace period.
        let orphan = matches!(segment_info(queue), Err(Error::NotFound { .. }));
        let sleepers = slick_queue::inspect::sleeping_readers(queue).ok().flatten().unwrap_or(0);
        let note = if orphan {
            format!("doorbell of /{queue}, which no longer exists")
        } else {
            format!("doorbell of queue /{queue}: {sleepers} reader(s) asleep")
        };
        return Segment {
            stale: orphan && age.is_some_and(|a| a >= grace),
            is_queue: false,
            name: bare,
            status: Status::Doorbell,
            bytes: info.len,
            mode: format!("{:04o}", info.mode),
            uid: info.uid,
            owner: owners.name(info.uid),
            age_secs: age.map(|a| a.as_secs_f64()),
            note: Some(note),
            header: None,
            sleeping_readers: None,
        };
    }
    let (status, note) = classify(info.len, info.header.as_ref());
    let sleeping_readers =
        if status.is_queue() { slick_queue::inspect::sleeping_readers(&bare).ok().flatten() } else { None };
    Segment {
        sleeping_readers,
        stale: status.can_go_stale() && age.is_some_and(|a| a >= grace),
        is_queue: status.is_queue(),
        name: bare,
        status,
        bytes: info.len,
        mode: format!("{:04o}", info.mode),
        uid: info.uid,
        owner: owners.name(info.uid),
        age_secs: age.map(|a| a.as_secs_f64()),
        note,
        header: if status.is_queue() { info.header.as_ref().map(header_view) } else { None },
    }
}

fn unreadable(bare: &str, owners: &Owners, why: String) -> Segment {
    use std::os::unix::fs::MetadataExt;
    let path = PathBuf::from(SHM_DIR).join(bare);
    let meta = std::fs::symlink_metadata(&path).ok();
    Segment {
        name: bare.to_owned(),
        status: Status::Unreadable,
        stale: false,
        is_queue: false,
        bytes: meta.as_ref().map_or(0, |m| m.len()),
        mode: meta.as_ref().map_or_else(|| "?".into(), |m| format!("{:04o}", m.mode() & 0o7777)),
        uid: meta.as_ref().map_or(0, |m| m.uid()),
        owner: meta.as_ref().map_or_else(|| "?".into(), |m| owners.name(m.uid())),
        age_secs: age_of(&path).map(|a| a.as_secs_f64()),
        note: Some(why),
        header: None,
        sleeping_readers: None,
    }
}

/// Stats and classifies the object `name` (with or without its leading
/// `/`). Errors for an invalid name, a missing object or one that cannot be
/// opened.
pub fn lookup(name: &str, grace: Duration) -> Result<Segment> {
    let info = segment_info(name).map_err(|e| describe_open_error(name, e))?;
    Ok(from_info(info, &Owners::load(), grace))
}

/// A clear message for a failure to open `name`.
pub fn describe_open_error(name: &str, e: Error) -> Fail {
    match e {
        Error::NotFound { name: posix } => msg(format!("no queue named {name:?}: /dev/shm{posix} does not exist")),
        Error::PermissionDenied { name: posix, source } => msg(format!(
            "permission denied opening {name:?} (/dev/shm{posix}): {source}; it belongs to another user or its \
             mode does not let you read it (see `ls -l /dev/shm{posix}`)"
        )),
        other => msg(other.to_string()),
    }
}

/// Every regular file in /dev/shm, classified, sorted by name. Objects that
/// vanish while being scanned are left out.
pub fn scan(grace: Duration) -> Result<Vec<Segment>> {
    let dir = std::fs::read_dir(SHM_DIR).map_err(|e| msg(format!("cannot list {SHM_DIR}: {e}")))?;
    let owners = Owners::load();
    let mut out = Vec::new();
    for entry in dir {
        let entry = entry.map_err(|e| msg(format!("cannot list {SHM_DIR}: {e}")))?;
        let Ok(ft) = entry.file_type() else { continue };
        if !ft.is_file() {
            continue;
        }
        let Ok(bare) = entry.file_name().into_string() else { continue };
        match segment_info(&bare) {
            Ok(info) => out.push(from_info(info, &owners, grace)),
            Err(Error::NotFound { .. }) => {}
            Err(Error::InvalidName { .. }) => {}
            Err(Error::PermissionDenied { source, .. }) => {
                out.push(unreadable(&bare, &owners, format!("cannot open it: {source}")))
            }
            Err(e) => out.push(unreadable(&bare, &owners, e.to_string())),
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use slick_queue::layout::{magic_for, pack_reserved, HEADER_SIZE};

    fn header(magic: u32, size: u32, es: u32, ips: u32, state: u32) -> HeaderSnapshot {
        let mut b = [0u8; HEADER_SIZE];
        b[0..8].copy_from_slice(&pack_reserved(5, 1).to_le_bytes());
        b[8..12].copy_from_slice(&size.to_le_bytes());
        b[12..16].copy_from_slice(&es.to_le_bytes());
        b[16..24].copy_from_slice(&4u64.to_le_bytes());
        b[24..28].copy_from_slice(&magic.to_le_bytes());
        b[28..32].copy_from_slice(&ips.to_le_bytes());
        b[48..52].copy_from_slice(&state.to_le_bytes());
        HeaderSnapshot::from_bytes(&b)
    }

    #[test]
    fn classification() {
        let full = (64 + 16 * 16 + 8 * 16) as u64;
        let ok = header(magic_for(true, 1), 16, 8, 1, INIT_READY);
        assert_eq!(classify(full, Some(&ok)).0, Status::Ok);
        assert_eq!(classify(full - 1, Some(&ok)).0, Status::Truncated);
        assert_eq!(classify(full, Some(&header(magic_for(true, 1), 16, 8, 0, INIT_LEGACY))).0, Status::Ok);
        assert_eq!(classify(full, Some(&header(magic_for(true, 1), 16, 8, 1, 2))).0, Status::Initializing);
        assert_eq!(classify(full, Some(&header(magic_for(true, 1), 16, 8, 1, 0))).0, Status::Uninitialized);
        assert_eq!(classify(full, Some(&header(magic_for(true, 1), 16, 8, 1, 7))).0, Status::Corrupt);
        assert_eq!(classify(full, Some(&header(magic_for(true, 1), 12, 8, 1, 3))).0, Status::Corrupt);
        assert_eq!(classify(full, Some(&header(magic_for(true, 4), 16, 8, 1, 3))).0, Status::Corrupt);
        assert_eq!(classify(full, Some(&header(0x534C_5135, 16, 8, 1, 3))).0, Status::Newer);
        assert_eq!(classify(full, Some(&header(0xDEAD_BEEF, 16, 8, 1, 3))).0, Status::Foreign);
        assert_eq!(classify(0, None).0, Status::Short);
        assert!(Status::Initializing.can_go_stale() && !Status::Ok.can_go_stale() && !Status::Foreign.can_go_stale());
        assert!(!Status::Doorbell.is_queue());
    }

    #[test]
    fn doorbell_objects_are_recognised_by_name_and_length() {
        let len = slick_queue::DOORBELL_LEN;
        assert_eq!(doorbell_of("orders.doorbell", len), Some("orders"));
        assert_eq!(doorbell_of("orders.doorbell", len + 1), None);
        assert_eq!(doorbell_of("orders", len), None);
        assert_eq!(doorbell_of(".doorbell", len), None);
    }

    #[test]
    fn marker_and_features() {
        assert_eq!(marker_text(0x534C_5131), "SLQ1");
        assert_eq!(marker_text(0x0000_4142), "??AB");
        assert_eq!(feature_names(3), vec!["read_last", "items_per_slot"]);
        assert_eq!(feature_names(0), Vec::<String>::new());
        assert_eq!(feature_names(5), vec!["read_last", "unknown(0x4)"]);
    }
}
