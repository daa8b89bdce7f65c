//! Test support shared by the test suites of this workspace (the core
//! `slick-queue` and the `slickq` CLI). Not published.
//!
//! * [`ShmGuard`]: a shared-memory name unique to the test process, removed
//!   (with its doorbell and any extra names) when dropped.
//! * Segment fixtures: [`header`], [`segment`], [`u32_at`], [`u64_at`].
//! * [`example`]: the path of one of the core's example binaries.
//! * The PyPI peer `slick-queue-py==2.3.0`: [`peer_enabled`] (the gate),
//!   [`peer_python`] (its interpreter) and [`peer_command`] (the one driver
//!   script, `peer.py` next to this crate's manifest, playing a role).
//! * [`attach_case`] (Linux): one attach-path fuzz case, run by the fuzz
//!   target `fuzz/fuzz_targets/attach.rs` and by the core's
//!   `tests/attach_fuzz.rs`.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

#[cfg(all(target_os = "linux", not(loom)))]
pub mod attach_case;

/// A shared-memory name unique to this test process (pid and a counter),
/// removed (with every extra name registered on it) when dropped.
pub struct ShmGuard {
    /// The name (no leading `/`).
    pub name: String,
    extra: Vec<String>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl ShmGuard {
    /// A fresh name `sqtest_<pid>_<tag>_<n>`; a leftover object of that name
    /// is removed first.
    pub fn new(tag: &str) -> ShmGuard {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("{}_{n}", ShmGuard::prefix(tag));
        remove_all(&name);
        ShmGuard { name, extra: Vec::new() }
    }

    /// `sqtest_<pid>_<tag>`: what the names of [`ShmGuard::new`]`(tag...)`
    /// of this process start with (for commands that take a name prefix).
    pub fn prefix(tag: &str) -> String {
        format!("sqtest_{}_{tag}", std::process::id())
    }

    /// Guards a name the test chose itself (removed on drop like the others).
    pub fn adopt(name: String) -> ShmGuard {
        ShmGuard { name, extra: Vec::new() }
    }

    /// The name, as a `&str`.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// Another name removed with this guard.
    pub fn also(&mut self, suffix: &str) -> String {
        let name = format!("{}_{suffix}", self.name);
        remove_all(&name);
        self.extra.push(name.clone());
        name
    }

    /// The object's path under /dev/shm (Linux).
    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!("/dev/shm/{}", self.name))
    }

    /// Whether the object exists under /dev/shm (Linux).
    pub fn exists(&self) -> bool {
        self.path().exists()
    }
}

/// Removes the object `name` and the doorbell object beside it, whatever
/// they hold (a test may have left a hostile object of either name).
fn remove_all(name: &str) {
    let _ = slick_queue::remove(name);
    if cfg!(target_os = "linux") {
        let _ = std::fs::remove_file(format!("/dev/shm/{name}"));
        let _ = std::fs::remove_file(format!("/dev/shm/{}", slick_queue::doorbell_name(name)));
    }
}

impl Drop for ShmGuard {
    fn drop(&mut self) {
        remove_all(&self.name);
        for n in &self.extra {
            remove_all(n);
        }
    }
}

/// The little-endian `u32` at byte `off` of raw segment bytes.
pub fn u32_at(b: &[u8], off: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[off..off + 4]);
    u32::from_le_bytes(w)
}

/// The little-endian `u64` at byte `off` of raw segment bytes.
pub fn u64_at(b: &[u8], off: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[off..off + 8]);
    u64::from_le_bytes(w)
}

/// A 64-byte header with the given fields (little-endian), for crafting
/// segments by hand. The offsets are written out here (the wire format's,
/// not read from the library under test).
pub fn header(size: u32, element_size: u32, magic: u32, ips: u32, init_state: u32) -> Vec<u8> {
    let mut h = vec![0u8; 64];
    h[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
    h[8..12].copy_from_slice(&size.to_le_bytes());
    h[12..16].copy_from_slice(&element_size.to_le_bytes());
    h[24..28].copy_from_slice(&magic.to_le_bytes());
    h[28..32].copy_from_slice(&ips.to_le_bytes());
    h[48..52].copy_from_slice(&init_state.to_le_bytes());
    h
}

/// A whole, valid, empty segment image for the geometry.
///
/// # Panics
/// If the geometry is invalid (a test's own mistake).
pub fn segment(size: u32, element_size: u32, ips: u32, read_last: bool) -> Vec<u8> {
    let g = slick_queue::Geometry::new(size, element_size, ips).expect("a valid test geometry");
    let magic = 0x534C_5130 | u32::from(read_last) | if ips != 1 { 2 } else { 0 };
    let mut b = header(size, element_size, magic, ips, 3);
    b.resize(g.segment_len(), 0);
    for s in 0..g.slot_count() as usize {
        let off = 64 + 16 * s;
        b[off..off + 8].copy_from_slice(&u64::MAX.to_le_bytes());
        b[off + 8..off + 12].copy_from_slice(&1u32.to_le_bytes());
    }
    b
}

/// Path of one of the core's example binaries (built by `cargo test` /
/// `cargo nextest run` of the core next to its test binaries).
///
/// # Panics
/// If the binary is missing (then build it with `cargo build --examples`).
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let p = dir.join("examples").join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(p.exists(), "example binary {} is missing: build it with `cargo build --examples`", p.display());
    p
}

/// Whether the tests that need the PyPI peer `slick-queue-py==2.3.0` run:
/// only when `SLICK_PEER_PYTHON` names its interpreter. `./scripts/test`
/// (and so CI) always sets it (scripts/env.sh), and there a missing
/// interpreter fails the test. A plain `cargo test` on a fresh clone has no
/// peer: each such test then returns early, and the test binary says once
/// on stderr (past the harness's output capture) that `which` are skipped.
pub fn peer_enabled(which: &str) -> bool {
    if std::env::var_os("SLICK_PEER_PYTHON").is_some() {
        return true;
    }
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "note: SLICK_PEER_PYTHON is not set: {which} with the PyPI peer slick-queue-py==2.3.0 are skipped \
             (./scripts/test runs them; or set it to a python that has that package)"
        );
    });
    false
}

/// The python interpreter that has `slick_queue_py==2.3.0` installed:
/// `$SLICK_PEER_PYTHON` (call [`peer_enabled`] first). A path that does not
/// exist fails the test: once asked for, the peer is part of the contract.
///
/// # Panics
/// If `SLICK_PEER_PYTHON` is unset or names no file.
pub fn peer_python() -> PathBuf {
    let p = PathBuf::from(std::env::var_os("SLICK_PEER_PYTHON").expect("SLICK_PEER_PYTHON is set"));
    assert!(
        p.exists(),
        "the PyPI peer's interpreter {} does not exist: run ./scripts/setup (which installs \
         slick-queue-py==2.3.0 into .peer-venv) or set SLICK_PEER_PYTHON to a python that has it",
        p.display()
    );
    p
}

/// The driver script of the PyPI peer (its roles are listed in it).
pub fn peer_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("peer.py")
}

/// `peer.py ROLE NAME ARGS...` under the peer's interpreter.
pub fn peer_command(role: &str, name: &str, args: &[&str]) -> Command {
    let mut c = Command::new(peer_python());
    c.arg(peer_script()).arg(role).arg(name).args(args);
    c
}

/// A record's bytes as lowercase hex (the peer driver's record format).
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
