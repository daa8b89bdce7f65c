//! A hostile or careless host, across real processes: objects planted under
//! a queue's name in the world-writable /dev/shm (symbolic links, FIFOs),
//! creation modes with more than permission bits, a full /dev/shm (in a
//! private mount namespace with a 16 MiB tmpfs), objects owned by another
//! user, and 0-byte objects left by creators that died before sizing them.
//!
//! Same harness as the rest of the `processes` test binary (`main.rs`): the test binary re-executes
//! itself with `SQ_ROLE=<role>`; the roles of this file are in [`run_role`].

use std::io::Write as _;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use libtest_mimic::{Failed, Trial};
use slick_queue::{ByteQueue, Error, Options, SharedCursor};

use super::{collect, ensure, finish, ES};
use testkit::ShmGuard;

pub fn trials() -> Vec<Trial> {
    vec![
        Trial::test("symlink_in_dev_shm_is_never_followed", symlink_in_dev_shm_is_never_followed),
        Trial::test("fifo_named_like_a_queue_is_refused_at_once", fifo_named_like_a_queue_is_refused_at_once),
        Trial::test("modes_with_setuid_setgid_or_sticky_are_refused", modes_with_setuid_setgid_or_sticky_are_refused),
        Trial::test("full_dev_shm_is_an_error_not_a_signal", full_dev_shm_is_an_error_not_a_signal),
        Trial::test("corrupt_indices_end_drain_loops", corrupt_indices_end_drain_loops),
        Trial::test("read_only_view_reads_and_never_writes", read_only_view_reads_and_never_writes),
    ]
}

/// The roles of this file; `None` when `role` is not one of them.
pub fn run_role(role: &str, a: &[String]) -> Option<i32> {
    let arg = |i: usize| a.get(i).map(String::as_str).unwrap_or("");
    match role {
        // full_shm NAME: run inside a private mount namespace whose /dev/shm
        // is a 16 MiB tmpfs (see `full_dev_shm_is_an_error_not_a_signal`).
        "full_shm" => Some(match full_shm(arg(0)) {
            Ok(()) => 0,
            Err(e) => {
                say(&format!("failed: {e}"));
                3
            }
        }),
        _ => None,
    }
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn shm_exists(name: &str) -> bool {
    std::path::Path::new(&format!("/dev/shm/{name}")).symlink_metadata().is_ok()
}

/// Runs `f` on a thread and fails if it does not return within `limit` (an
/// open that blocks on a FIFO would otherwise hang the test run).
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> Result<T, Failed> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit).map_err(|_| format!("did not return within {limit:?}").into())
}

// ---------------------------------------------------------------- tests

/// A symbolic link planted in /dev/shm under a queue's (or cursor's) name,
/// pointing at a zero-filled file the victim can write: create-or-open,
/// open, the shared cursor and inspection all fail with `NotRegularFile`,
/// and the target file keeps its length and its zeros.
fn symlink_in_dev_shm_is_never_followed() -> Result<(), Failed> {
    let g = ShmGuard::new("symlink");
    let target = std::env::temp_dir().join(format!("{}_target", g.name));
    let len = 1 << 16;
    std::fs::write(&target, vec![0u8; len])?;
    let _cleanup = RemoveOnDrop(target.clone());
    std::os::unix::fs::symlink(&target, g.path())?;

    let not_regular = |r: Result<(), Error>, what: &str| -> Result<(), Failed> {
        match r {
            Err(Error::NotRegularFile { kind: "a symbolic link", .. }) => Ok(()),
            other => Err(format!("{what} through a symlink: {other:?}").into()),
        }
    };
    not_regular(ByteQueue::create_or_open(&g.name, 64, ES, &Options::new()).map(drop), "create_or_open")?;
    not_regular(ByteQueue::open(&g.name, ES, &Options::new()).map(drop), "open")?;
    not_regular(ByteQueue::open_any(&g.name, &Options::new()).map(drop), "open_any")?;
    not_regular(SharedCursor::create_or_open(&g.name, &Options::new()).map(drop), "cursor create_or_open")?;
    not_regular(SharedCursor::open(&g.name).map(drop), "cursor open")?;
    not_regular(slick_queue::inspect::segment_info(&g.name).map(drop), "segment_info")?;
    let e = ByteQueue::open(&g.name, ES, &Options::new()).err().ok_or("opened")?;
    ensure(e.to_string().contains("symbolic link"), e.to_string())?;

    let after = std::fs::read(&target)?;
    ensure(after.len() == len, format!("target length changed to {}", after.len()))?;
    ensure(after.iter().all(|b| *b == 0), "the target file was written through the link")?;
    Ok(())
}

/// A FIFO named like a queue: every way in (open, create-or-open, the
/// shared cursor, inspection) returns `NotRegularFile` within a second
/// instead of blocking in `open(2)` for a writer that never comes.
fn fifo_named_like_a_queue_is_refused_at_once() -> Result<(), Failed> {
    let g = ShmGuard::new("fifo");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        g.path(),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_bits_truncate(0o600),
        0,
    )?;
    let name = g.name.clone();
    let results = within(Duration::from_secs(5), move || {
        let start = Instant::now();
        let r = [
            ByteQueue::open(&name, ES, &Options::new()).err(),
            ByteQueue::create_or_open(&name, 64, ES, &Options::new()).err(),
            ByteQueue::open_any(&name, &Options::new()).err(),
            SharedCursor::open(&name).err(),
            SharedCursor::create_or_open(&name, &Options::new()).err(),
            slick_queue::inspect::segment_info(&name).err(),
            slick_queue::inspect::read_slots(&name, 0, 4).err(),
        ];
        (r, start.elapsed())
    })?;
    let (errors, took) = results;
    ensure(took < Duration::from_secs(1), format!("took {took:?}"))?;
    for (i, e) in errors.iter().enumerate() {
        ensure(matches!(e, Some(Error::NotRegularFile { kind: "a FIFO", .. })), format!("call {i}: {e:?}"))?;
    }
    Ok(())
}

/// `Options::mode` with setuid, setgid, sticky or higher bits: creating a
/// queue or a cursor fails with `InvalidMode` (saying which bits are
/// refused) and leaves no object behind; plain permission bits work.
fn modes_with_setuid_setgid_or_sticky_are_refused() -> Result<(), Failed> {
    let mut g = ShmGuard::new("mode");
    for mode in [0o4777, 0o2777, 0o1777, 0o4600, 0o6600, 0o10600, 0o7000] {
        let e = ByteQueue::create_or_open(&g.name, 64, ES, &Options::new().mode(mode)).err();
        ensure(matches!(e, Some(Error::InvalidMode { mode: m }) if m == mode), format!("{mode:o}: {e:?}"))?;
        let msg = e.map(|e| e.to_string()).unwrap_or_default();
        ensure(msg.contains("setuid") && msg.contains("sticky"), &msg)?;
        ensure(!shm_exists(&g.name), format!("mode {mode:o} left an object"))?;
        let e = SharedCursor::create_or_open(&g.name, &Options::new().mode(mode)).err();
        ensure(matches!(e, Some(Error::InvalidMode { .. })), format!("cursor {mode:o}: {e:?}"))?;
        ensure(!shm_exists(&g.name), format!("cursor mode {mode:o} left an object"))?;
    }
    let ok = g.also("ok");
    let _q = ByteQueue::create_or_open(&ok, 64, ES, &Options::new().mode(0o777))?;
    let mode = std::fs::metadata(format!("/dev/shm/{ok}"))?.permissions();
    ensure(std::os::unix::fs::PermissionsExt::mode(&mode) & 0o7777 == 0o777, format!("{mode:?}"))?;
    Ok(())
}

/// Whether this process may make a private mount namespace; the reason
/// why not, otherwise.
pub fn unshare_unavailable() -> Option<String> {
    match Command::new("unshare").args(["-m", "true"]).output() {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(format!("`unshare -m` is not permitted here: {}", String::from_utf8_lossy(&o.stderr).trim())),
        Err(e) => Some(format!("`unshare` could not be run: {e}")),
    }
}

/// A full /dev/shm. The test re-runs this binary in a private mount
/// namespace (`unshare -m`) with a 16 MiB tmpfs mounted over /dev/shm, so
/// the real one is never filled; the child (role `full_shm`) checks that
/// creating a segment larger than the free space is `Error::NoSpace` and
/// leaves no object, that a segment that fits has all its memory reserved
/// (writing every byte of it does not raise SIGBUS even once the rest of
/// the tmpfs is full), and that a shared cursor on a full tmpfs is an
/// error too. Skipped, saying why, where unshare or mount is not permitted
/// (CI runs as root, where it is).
fn full_dev_shm_is_an_error_not_a_signal() -> Result<(), Failed> {
    if let Some(why) = unshare_unavailable() {
        println!("full_dev_shm_is_an_error_not_a_signal: skipped: {why}");
        return Ok(());
    }
    let g = ShmGuard::new("full");
    let mut cmd = Command::new("unshare");
    cmd.args([
        "-m",
        "--propagation",
        "private",
        "sh",
        "-c",
        "mount -t tmpfs -o size=16m tmpfs /dev/shm && exec \"$0\" \"$@\"",
    ]);
    cmd.arg(std::env::current_exe()?);
    let kid = collect(cmd, "full_shm", &[&g.name]);
    let (code, lines) = finish(kid, Duration::from_secs(120))?;
    if code != 0 && lines.is_empty() {
        println!(
            "full_dev_shm_is_an_error_not_a_signal: skipped: mounting a tmpfs in the namespace failed (exit {code})"
        );
        return Ok(());
    }
    ensure(code == 0, format!("child exited {code}: {lines:?}"))?;
    ensure(lines.last().map(String::as_str) == Some("all ok"), format!("{lines:?}"))?;
    ensure(!shm_exists(&g.name), "the namespace's objects leaked into the real /dev/shm")?;
    Ok(())
}

/// The child of `full_dev_shm_is_an_error_not_a_signal`.
fn full_shm(name: &str) -> Result<(), String> {
    let stat = rustix::fs::statvfs("/dev/shm").map_err(|e| e.to_string())?;
    let total = stat.f_blocks * stat.f_frsize;
    if total > 32 << 20 {
        return Err(format!("/dev/shm is {total} bytes: not the private 16 MiB tmpfs"));
    }
    say(&format!("tmpfs of {total} bytes"));
    // 0. A segment sized without its memory reserved, as the C++ and
    //    original Python peers make them (`ftruncate` alone): here a queue of
    //    ours whose data pages are punched out again. Opening it read-write
    //    reserves the missing pages (so none can raise SIGBUS later).
    let sparse = format!("{name}_sparse");
    let backed = |f: &std::fs::File| f.metadata().map(|m| m.blocks() * 512).unwrap_or(0);
    let make_sparse = || -> Result<u64, String> {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(format!("/dev/shm/{sparse}"))
            .map_err(|e| e.to_string())?;
        let len = f.metadata().map_err(|e| e.to_string())?.len();
        let flags = rustix::fs::FallocateFlags::PUNCH_HOLE | rustix::fs::FallocateFlags::KEEP_SIZE;
        // The data array starts after the header and 16-byte slots.
        let data = (64 + 16 * (1u64 << 14)).next_multiple_of(4096);
        rustix::fs::fallocate(&f, flags, data, len - data).map_err(|e| format!("punch: {e}"))?;
        Ok(backed(&f))
    };
    drop(ByteQueue::create_or_open(&sparse, 1 << 14, 64, &Options::new()).map_err(|e| e.to_string())?);
    let seg_len = std::fs::metadata(format!("/dev/shm/{sparse}")).map_err(|e| e.to_string())?.len();
    let before = make_sparse()?;
    let q = ByteQueue::open(&sparse, 64, &Options::new()).map_err(|e| e.to_string())?;
    let after = std::fs::File::open(format!("/dev/shm/{sparse}")).map(|f| backed(&f)).map_err(|e| e.to_string())?;
    if before >= seg_len || after < seg_len {
        return Err(format!("segment of {seg_len} bytes: {before} backed before the open, {after} after"));
    }
    drop(q);
    make_sparse()?;
    say("a sparse segment is reserved when opened");
    // 1. Larger than the whole tmpfs: a typed error, nothing left behind.
    let big = ByteQueue::create_or_open(name, 1 << 20, 64, &Options::new()).err();
    match &big {
        Some(Error::NoSpace { needed, source, .. }) if *needed > total => {
            if source.raw_os_error() != Some(rustix::io::Errno::NOSPC.raw_os_error()) {
                return Err(format!("NoSpace carries {source:?}"));
            }
        }
        other => return Err(format!("64 MiB create: {other:?}")),
    }
    if shm_exists(name) {
        return Err("the failed create left its object".into());
    }
    say("64 MiB: NoSpace, no object left");
    // 2. 10 MiB fits: its memory is reserved at create. Fill the rest of
    //    the tmpfs with a file, then write every byte of the queue: no
    //    SIGBUS (the child would die of it and the test would see the
    //    signal, not "all ok").
    let q = ByteQueue::create_or_open(name, 1 << 14, 640, &Options::new()).map_err(|e| e.to_string())?;
    let filler = std::path::Path::new("/dev/shm/filler");
    let f = std::fs::File::create(filler).map_err(|e| e.to_string())?;
    let chunk = vec![0xA5u8; 1 << 20];
    let mut off = 0u64;
    while f.write_at(&chunk, off).map(|n| n > 0).unwrap_or(false) {
        off += chunk.len() as u64;
    }
    say(&format!("filler took {off} bytes"));
    let record = vec![0x5Au8; 640];
    for _ in 0..q.capacity() {
        q.push(&record).map_err(|e| e.to_string())?;
    }
    let mut cursor = 0;
    let mut read = 0;
    while let Some(r) = q.read(&mut cursor) {
        let mut buf = vec![0u8; r.byte_len()];
        r.copy_to(&mut buf);
        if buf != record {
            return Err("a record came back changed".into());
        }
        read += 1;
    }
    if read != q.capacity() {
        return Err(format!("read {read} records of {}", q.capacity()));
    }
    say("10 MiB queue fully written and read on a full tmpfs");
    // 3. Nothing left: even a 64-byte-header queue and an 8-byte cursor are
    //    errors, not signals, and leave nothing behind.
    let small = format!("{name}_small");
    let cur = format!("{name}_cursor");
    // The filler may have left a partial page free; take it too.
    let _ = f.write_at(&chunk[..4096], off);
    match ByteQueue::create_or_open(&small, 1 << 10, 64, &Options::new()) {
        Err(Error::NoSpace { .. }) => {}
        other => return Err(format!("small create on a full tmpfs: {:?}", other.map(|_| "created"))),
    }
    match SharedCursor::create_or_open(&cur, &Options::new()) {
        Err(Error::NoSpace { .. }) => {}
        other => return Err(format!("cursor create on a full tmpfs: {:?}", other.map(|_| "created"))),
    }
    if shm_exists(&small) || shm_exists(&cur) {
        return Err("a failed create on a full tmpfs left its object".into());
    }
    // 4. The sparse segment of step 0 on the full tmpfs: opening it (read-
    //    write, read-only, create-or-open) is an error, not a SIGBUS when a
    //    record lands on a missing page; nothing of it is changed.
    let unbacked = |what: &str, r: Result<ByteQueue, Error>| match r {
        Err(Error::Unbacked { missing, source, .. })
            if missing > 0 && source.raw_os_error() == Some(rustix::io::Errno::NOSPC.raw_os_error()) =>
        {
            Ok(())
        }
        other => Err(format!("{what} of a sparse segment on a full tmpfs: {:?}", other.map(|_| "attached"))),
    };
    unbacked("open", ByteQueue::open(&sparse, 64, &Options::new()))?;
    unbacked("read-only open", ByteQueue::open_read_only(&sparse, &Options::new()))?;
    unbacked("create_or_open", ByteQueue::create_or_open(&sparse, 1 << 14, 64, &Options::new()))?;
    if std::fs::metadata(format!("/dev/shm/{sparse}")).map(|m| m.len()).ok() != Some(seg_len) {
        return Err("the refused opens changed the segment's length".into());
    }
    say("a sparse segment on a full tmpfs: Unbacked, no signal");
    let _ = std::fs::remove_file(format!("/dev/shm/{sparse}"));
    say("all ok");
    Ok(())
}

/// A static segment whose slots were overwritten (through the file, as any
/// process with write access can) with indices near 2^64, each naming its
/// own position: following them once moves a cursor past 2^64, where it
/// wraps to the start and would read the same slots again, for ever. Drain
/// loops (`while let Some(_) = read(..)`) with a private cursor from 0, from
/// `initial_reading_index()` and with a shared cursor must end, the
/// corruption counted in `corrupt_count()`. Also indices beyond the 48-bit
/// index space that do not wrap, and a wrap marker pointing beyond it.
fn corrupt_indices_end_drain_loops() -> Result<(), Failed> {
    const CAP: u64 = 64;
    let mut g = ShmGuard::new("corrupt_idx");
    for (case, base) in [("near 2^64", u64::MAX - CAP + 1), ("beyond 2^48", 1u64 << 50)] {
        let name = g.also(&format!("{}", base.leading_zeros()));
        let q = ByteQueue::create_or_open(&name, CAP as u32, 8, &Options::new())?;
        for i in 0..10u64 {
            q.push(&i.to_le_bytes())?;
        }
        let file = std::fs::OpenOptions::new().write(true).open(format!("/dev/shm/{name}"))?;
        for i in 0..CAP {
            // slot i: data_index = base + i (same position), size 1
            let mut slot = [0u8; 16];
            slot[..8].copy_from_slice(&(base + i).to_le_bytes());
            slot[8..12].copy_from_slice(&1u32.to_le_bytes());
            file.write_all_at(&slot, 64 + 16 * i)?;
        }
        let limit = 4 * CAP as usize;
        for start in [0, q.initial_reading_index()] {
            let mut cursor = start;
            let mut n = 0;
            while q.read(&mut cursor).is_some() {
                n += 1;
                ensure(n <= limit, format!("{case}: a drain loop from {start} did not end ({n} records)"))?;
            }
        }
        let cursor = std::sync::atomic::AtomicU64::new(0);
        let mut n = 0;
        while q.read_shared(&cursor).is_some() {
            n += 1;
            ensure(n <= limit, format!("{case}: a shared-cursor drain loop did not end"))?;
        }
        ensure(q.corrupt_count() > 0, format!("{case}: the corruption was not counted"))?;
    }
    // A wrap marker (slot 0 naming another position) pointing beyond 2^48.
    let name = g.also("marker");
    let q = ByteQueue::create_or_open(&name, CAP as u32, 8, &Options::new())?;
    let file = std::fs::OpenOptions::new().write(true).open(format!("/dev/shm/{name}"))?;
    let mut slot = [0u8; 16];
    slot[..8].copy_from_slice(&((1u64 << 60) + 5).to_le_bytes());
    slot[8..12].copy_from_slice(&1u32.to_le_bytes());
    file.write_all_at(&slot, 64)?;
    let mut cursor = 0;
    ensure(q.read(&mut cursor).is_none() && cursor == 0, format!("followed a corrupt wrap marker to {cursor}"))?;
    ensure(q.corrupt_count() == 1, format!("corrupt_count {}", q.corrupt_count()))?;
    Ok(())
}

/// `ByteQueue::open_read_only`: a copy-on-write view that sees what the
/// producers publish, before and after it attached, and whose writes never
/// reach the segment. The object is opened read-only, so it also works on a
/// queue the user may only read (the `slickq` tests run that as `nobody`).
fn read_only_view_reads_and_never_writes() -> Result<(), Failed> {
    let g = ShmGuard::new("roview");
    let q = ByteQueue::create_or_open(&g.name, 64, 8, &Options::new())?;
    q.push(b"first")?;
    let view = ByteQueue::open_read_only(&g.name, &Options::new())?;
    ensure(!view.is_creator() && view.capacity() == 64 && view.element_size() == 8, "geometry adopted")?;
    let mut cursor = 0;
    let mut buf = [0u8; 8];
    view.read(&mut cursor).ok_or("no first record")?.copy_to(&mut buf);
    ensure(&buf[..5] == b"first", format!("{buf:?}"))?;
    q.push(b"second")?;
    view.read(&mut cursor).ok_or("the view did not see a later record")?.copy_to(&mut buf);
    ensure(&buf[..6] == b"second", format!("{buf:?}"))?;
    let before = std::fs::read(g.path())?;
    view.push(b"private")?;
    view.reset();
    ensure(std::fs::read(g.path())? == before, "a write through the read-only view reached the segment")?;
    let mut c = 0;
    ensure(q.read(&mut c).is_some() && q.read(&mut c).is_some() && q.read(&mut c).is_none(), "the queue is as it was")?;
    Ok(())
}

struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
