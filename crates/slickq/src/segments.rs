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

/// Why `ls` (and `rm --stale`) cannot list objects on this platform: only
/// Linux has a directory of shared-memory objects.
#[cfg(not(target_os = "linux"))]
pub const CANNOT_ENUMERATE: &str = if cfg!(windows) {
    "Windows offers no way to list named file mappings, so slickq cannot enumerate queues here; \
     name one instead (`slickq stat NAME`, `slickq inspect NAME`)"
} else {
    "this system keeps POSIX shared-memory objects in the kernel with no directory to list (there is \
     no /dev/shm on macOS), so slickq cannot enumerate queues here; name one instead (`slickq stat NAME`, \
     `slickq inspect NAME`)"
};

/// The object as the system names it, for messages: `/dev/shm/NAME` on
/// Linux, `/NAME` on macOS, the mapping `NAME` on Windows.
pub fn object_path(bare: &str) -> String {
    if cfg!(target_os = "linux") {
        format!("{SHM_DIR}/{bare}")
    } else if cfg!(windows) {
        format!("the named mapping {bare}")
    } else {
        format!("/{bare}")
    }
}

/// The name a peer would print: `/NAME` on Linux and macOS, `NAME` on Windows.
pub fn os_name(bare: &str) -> String {
    if cfg!(windows) {
        bare.to_owned()
    } else {
        format!("/{bare}")
    }
}

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
    /// (A 0-byte object, status `short`, does too: see `Segment::stale`.)
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
    /// The object name without its leading `/` (the file name in /dev/shm;
    /// for a name that is not UTF-8, its escaped form).
    pub name: String,
    /// The name as printed: control characters, backslashes and bytes that
    /// are not UTF-8 escaped (`\x1b`, `\\`, `\xff`), so that a name cannot
    /// drive the terminal and can be given back to `slickq rm`.
    #[serde(skip)]
    pub shown: String,
    /// Its classification.
    pub status: Status,
    /// Whether `rm --stale` would remove it (given the grace period used):
    /// half-initialised or truncated, or a 0-byte object, older than the
    /// grace period, and no process maps it or holds it open.
    pub stale: bool,
    /// Whether it carries the layout marker.
    pub is_queue: bool,
    /// Length of the object in bytes.
    pub bytes: u64,
    /// Permission bits, e.g. `0600` (`-` on Windows, where a mapping has an
    /// access-control list instead).
    pub mode: String,
    /// Owner's user id (none on Windows).
    pub uid: Option<u32>,
    /// Owner's user name (the uid when unknown, `-` on Windows).
    pub owner: String,
    /// Seconds since the object was last modified (for a queue: sized by its creator).
    pub age_secs: Option<f64>,
    /// Why the status is not `ok`, in words.
    pub note: Option<String>,
    /// The decoded header (queues only).
    pub header: Option<HeaderView>,
    /// The processes that map the object or hold it open (from /proc).
    pub attached: Vec<Attached>,
    /// Readers asleep on the queue's doorbell (queues with a doorbell
    /// object only; a reader that died asleep counts until a producer
    /// notices).
    pub sleeping_readers: Option<u32>,
}

/// A process that maps an object or holds a descriptor of it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Attached {
    /// Process id.
    pub pid: u32,
    /// Its command line (control characters shown as `?`, cut at 80 characters).
    pub command: String,
    /// `mapped` (listed in /proc/PID/maps) or `open` (a descriptor in
    /// /proc/PID/fd, not mapped: e.g. a creator between `shm_open` and
    /// sizing the object).
    pub how: &'static str,
}

/// Which processes map or hold open which objects of /dev/shm, keyed by
/// (device, inode): read from every /proc/PID/maps and /proc/PID/fd this
/// user may read (as root: every process; as another user, other users'
/// processes are not visible).
pub struct Holders {
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    by_object: HashMap<(u64, u64), Vec<Attached>>,
}

/// (major, minor) of a Linux `st_dev` (glibc's `gnu_dev_major/minor`).
#[cfg(target_os = "linux")]
fn dev_parts(dev: u64) -> (u64, u64) {
    (((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff), (dev & 0xff) | ((dev >> 12) & !0xff))
}

#[cfg(target_os = "linux")]
fn command_of(pid: &str) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let mut text: String = String::from_utf8_lossy(&raw).trim_end_matches('\0').replace('\0', " ");
    if text.is_empty() {
        text = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default().trim().to_owned();
        text = format!("[{text}]");
    }
    text.chars().map(|c| if c.is_control() { '?' } else { c }).take(80).collect()
}

impl Holders {
    /// Nothing to scan where there is no /proc (macOS, Windows): no process
    /// is seen as attached there.
    #[cfg(not(target_os = "linux"))]
    pub fn scan() -> Holders {
        Holders { by_object: HashMap::new() }
    }

    /// Scans /proc once.
    #[cfg(target_os = "linux")]
    pub fn scan() -> Holders {
        use std::os::unix::fs::MetadataExt;
        let mut by_object: HashMap<(u64, u64), Vec<Attached>> = HashMap::new();
        let me = std::process::id();
        let Ok(procs) = std::fs::read_dir("/proc") else { return Holders { by_object } };
        for entry in procs.flatten() {
            let name = entry.file_name();
            let Some(pid_text) = name.to_str() else { continue };
            let Ok(pid) = pid_text.parse::<u32>() else { continue };
            if pid == me {
                continue;
            }
            let mut found: Vec<((u64, u64), &'static str)> = Vec::new();
            // Unreadable maps (another user's process, for a non-root
            // user) are skipped: that process is not seen.
            if let Ok(maps) = std::fs::read_to_string(format!("/proc/{pid}/maps")) {
                for line in maps.lines() {
                    // address perms offset dev inode path
                    let mut f = line.split_ascii_whitespace();
                    let (Some(_), Some(_), Some(_), Some(dev), Some(inode)) =
                        (f.next(), f.next(), f.next(), f.next(), f.next())
                    else {
                        continue;
                    };
                    if !f.next().is_some_and(|p| p.starts_with("/dev/shm/")) {
                        continue;
                    }
                    let Some((major, minor)) = dev.split_once(':') else { continue };
                    let (Ok(major), Ok(minor), Ok(inode)) =
                        (u64::from_str_radix(major, 16), u64::from_str_radix(minor, 16), inode.parse::<u64>())
                    else {
                        continue;
                    };
                    let key = ((major << 32) | minor, inode);
                    if !found.iter().any(|(k, _)| *k == key) {
                        found.push((key, "mapped"));
                    }
                }
            }
            if let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
                for fd in fds.flatten() {
                    let Ok(target) = std::fs::read_link(fd.path()) else { continue };
                    if !target.starts_with("/dev/shm/") {
                        continue;
                    }
                    let Ok(meta) = std::fs::metadata(fd.path()) else { continue };
                    let (major, minor) = dev_parts(meta.dev());
                    let key = ((major << 32) | minor, meta.ino());
                    if !found.iter().any(|(k, _)| *k == key) {
                        found.push((key, "open"));
                    }
                }
            }
            if found.is_empty() {
                continue;
            }
            let command = command_of(pid_text);
            for (key, how) in found {
                by_object.entry(key).or_default().push(Attached { pid, command: command.clone(), how });
            }
        }
        for list in by_object.values_mut() {
            list.sort_by_key(|a| a.pid);
        }
        Holders { by_object }
    }

    /// The processes attached to the object at `path`: none without /proc.
    #[cfg(not(target_os = "linux"))]
    pub fn of(&self, _path: &std::path::Path) -> Vec<Attached> {
        Vec::new()
    }

    /// The processes attached to the object at `path` (none if it cannot be stat'ed).
    #[cfg(target_os = "linux")]
    pub fn of(&self, path: &std::path::Path) -> Vec<Attached> {
        use std::os::unix::fs::MetadataExt;
        let Ok(meta) = std::fs::symlink_metadata(path) else { return Vec::new() };
        let (major, minor) = dev_parts(meta.dev());
        self.by_object.get(&((major << 32) | minor, meta.ino())).cloned().unwrap_or_default()
    }
}

/// A file name as printed: printable text as is; control characters,
/// backslashes and bytes that are not UTF-8 as `\xNN` / `\\` escapes
/// (other non-printable characters as `\u{..}`). [`unescape`] reverses it.
pub fn escape_name(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                c if (c as u32) < 0x80 && c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
                c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// The bytes of a name printed by [`escape_name`]; `None` if it holds a
/// malformed escape. (Used by `rm` where names are files: not on Windows.)
#[cfg_attr(windows, allow(dead_code))]
pub fn unescape(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find('\\') {
        out.extend_from_slice(&rest.as_bytes()[..i]);
        let tail = &rest[i + 1..];
        if let Some(t) = tail.strip_prefix('\\') {
            out.push(b'\\');
            rest = t;
        } else if let Some(t) = tail.strip_prefix('x') {
            out.push(u8::from_str_radix(t.get(..2)?, 16).ok()?);
            rest = &t[2..];
        } else if let Some(t) = tail.strip_prefix("u{") {
            let end = t.find('}')?;
            let c = char::from_u32(u32::from_str_radix(&t[..end], 16).ok()?)?;
            out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
            rest = &t[end + 1..];
        } else {
            return None;
        }
    }
    out.extend_from_slice(rest.as_bytes());
    Some(out)
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

fn from_info(info: SegmentInfo, owners: &Owners, holders: &Holders, grace: Duration) -> Segment {
    let bare = info.name.strip_prefix('/').unwrap_or(&info.name).to_owned();
    let path = PathBuf::from(SHM_DIR).join(&bare);
    let age = age_of(&path);
    if let Some(queue) = doorbell_of(&bare, info.len).filter(|_| has_doorbell_magic(&bare)) {
        // A doorbell whose queue is gone (removed by a tool that does not
        // know doorbells) is stale once past the grace period.
        let attached = holders.of(&path);
        let orphan = matches!(segment_info(queue), Err(Error::NotFound { .. }));
        let sleepers = slick_queue::inspect::sleeping_readers(queue).ok().flatten().unwrap_or(0);
        // The queue's name as printed (escaped, like every name shown).
        let shown_queue = escape_name(queue.as_bytes());
        let note = if orphan {
            format!("doorbell of /{shown_queue}, which no longer exists")
        } else {
            format!("doorbell of queue /{shown_queue}: {sleepers} reader(s) asleep")
        };
        return Segment {
            stale: orphan && age.is_some_and(|a| a >= grace) && attached.is_empty(),
            shown: escape_name(bare.as_bytes()),
            is_queue: false,
            name: bare,
            status: Status::Doorbell,
            bytes: info.len,
            mode: info.mode.map_or_else(|| "-".into(), |m| format!("{m:04o}")),
            uid: info.uid,
            owner: info.uid.map_or_else(|| "-".into(), |u| owners.name(u)),
            age_secs: age.map(|a| a.as_secs_f64()),
            note: Some(note),
            header: None,
            sleeping_readers: None,
            attached,
        };
    }
    let (status, note) = classify(info.len, info.header.as_ref());
    let attached = holders.of(&path);
    // A 0-byte object: its creator died before sizing it (a live one sizes
    // it right after creating it, and holds a descriptor meanwhile).
    let abandoned_empty = status == Status::Short && info.len == 0;
    let sleeping_readers =
        if status.is_queue() { slick_queue::inspect::sleeping_readers(&bare).ok().flatten() } else { None };
    Segment {
        stale: (status.can_go_stale() || abandoned_empty) && age.is_some_and(|a| a >= grace) && attached.is_empty(),
        shown: escape_name(bare.as_bytes()),
        sleeping_readers,
        is_queue: status.is_queue(),
        name: bare,
        status,
        bytes: info.len,
        mode: info.mode.map_or_else(|| "-".into(), |m| format!("{m:04o}")),
        uid: info.uid,
        owner: info.uid.map_or_else(|| "-".into(), |u| owners.name(u)),
        age_secs: age.map(|a| a.as_secs_f64()),
        note,
        header: if status.is_queue() { info.header.as_ref().map(header_view) } else { None },
        attached,
    }
}

#[cfg(target_os = "linux")]
fn unreadable(bare: &str, owners: &Owners, why: String) -> Segment {
    use std::os::unix::fs::MetadataExt;
    let path = PathBuf::from(SHM_DIR).join(bare);
    let meta = std::fs::symlink_metadata(&path).ok();
    Segment {
        name: bare.to_owned(),
        shown: escape_name(bare.as_bytes()),
        status: Status::Unreadable,
        stale: false,
        is_queue: false,
        bytes: meta.as_ref().map_or(0, |m| m.len()),
        mode: meta.as_ref().map_or_else(|| "?".into(), |m| format!("{:04o}", m.mode() & 0o7777)),
        uid: meta.as_ref().map(|m| m.uid()),
        owner: meta.as_ref().map_or_else(|| "?".into(), |m| owners.name(m.uid())),
        age_secs: age_of(&path).map(|a| a.as_secs_f64()),
        note: Some(why),
        header: None,
        attached: Vec::new(),
        sleeping_readers: None,
    }
}

/// Stats and classifies the object `name` (with or without its leading
/// `/`). Errors for an invalid name, a missing object or one that cannot be
/// opened.
pub fn lookup(name: &str, grace: Duration) -> Result<Segment> {
    let info = segment_info(name).map_err(|e| describe_open_error(name, e))?;
    Ok(from_info(info, &Owners::load(), &Holders::scan(), grace))
}

/// A clear message for a failure to open `name`.
/// Whether the object would be stale by its state and age, but is kept
/// because processes map it or hold it open (a paused or slow creator).
pub fn kept_by_holders(s: &Segment, grace: Duration) -> bool {
    !s.attached.is_empty()
        && (s.status.can_go_stale() || (s.status == Status::Short && s.bytes == 0))
        && s.age_secs.is_some_and(|a| a >= grace.as_secs_f64())
}

/// `pid 12 (cmd), pid 34 (cmd) [open only]` for messages.
pub fn describe_attached(list: &[Attached]) -> String {
    list.iter()
        .map(|a| {
            let how = if a.how == "open" { ", open, not mapped" } else { "" };
            format!("pid {} ({}{how})", a.pid, a.command)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn describe_open_error(name: &str, e: Error) -> Fail {
    match e {
        Error::NotFound { name: posix } if cfg!(target_os = "linux") => {
            msg(format!("no queue named {name:?}: /dev/shm{posix} does not exist"))
        }
        e @ Error::NotFound { .. } => msg(e.to_string()),
        Error::PermissionDenied { source, .. } if !cfg!(target_os = "linux") => {
            msg(format!("permission denied opening {name:?}: {source}; it belongs to another user"))
        }
        Error::PermissionDenied { name: posix, source } => msg(format!(
            "permission denied opening {name:?} (/dev/shm{posix}): {source}; it belongs to another user or its \
             mode does not let you read it (see `ls -l /dev/shm{posix}`)"
        )),
        other => msg(other.to_string()),
    }
}

/// Every regular file in /dev/shm, classified, sorted by name. Objects that
/// vanish while being scanned are left out. An error saying so where the
/// platform cannot enumerate objects ([`CANNOT_ENUMERATE`]).
#[cfg(not(target_os = "linux"))]
pub fn scan(_grace: Duration) -> Result<Vec<Segment>> {
    Err(msg(CANNOT_ENUMERATE))
}

/// Every regular file in /dev/shm, classified, sorted by name. Objects that
/// vanish while being scanned are left out.
#[cfg(target_os = "linux")]
pub fn scan(grace: Duration) -> Result<Vec<Segment>> {
    let dir = std::fs::read_dir(SHM_DIR).map_err(|e| msg(format!("cannot list {SHM_DIR}: {e}")))?;
    let owners = Owners::load();
    let holders = Holders::scan();
    let mut out = Vec::new();
    for entry in dir {
        let entry = entry.map_err(|e| msg(format!("cannot list {SHM_DIR}: {e}")))?;
        let Ok(ft) = entry.file_type() else { continue };
        if !ft.is_file() {
            continue;
        }
        let bare = match entry.file_name().into_string() {
            Ok(bare) => bare,
            Err(raw) => {
                // Not UTF-8: no queue API can name it; list it (with --all)
                // under its escaped name, which `slickq rm --force` takes.
                use std::os::unix::ffi::OsStrExt;
                let escaped = escape_name(raw.as_bytes());
                let mut seg = unreadable(&escaped, &owners, String::new());
                let meta = std::fs::symlink_metadata(entry.path()).ok();
                seg.bytes = meta.as_ref().map_or(0, |m| m.len());
                seg.mode = meta.as_ref().map_or_else(
                    || "?".into(),
                    |m| {
                        use std::os::unix::fs::MetadataExt;
                        format!("{:04o}", m.mode() & 0o7777)
                    },
                );
                if let Some(m) = &meta {
                    use std::os::unix::fs::MetadataExt;
                    seg.uid = Some(m.uid());
                    seg.owner = owners.name(m.uid());
                }
                seg.shown = escaped.clone();
                seg.note =
                    Some(format!("its name is not UTF-8 (shown escaped); `slickq rm --force '{escaped}'` removes it"));
                out.push(seg);
                continue;
            }
        };
        match segment_info(&bare) {
            Ok(info) => out.push(from_info(info, &owners, &holders, grace)),
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
