//! Helpers shared by the shared-memory tests.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

/// A unique shared-memory name for this test process, removed (with every
/// extra name registered on it) when dropped.
pub struct ShmGuard {
    pub name: String,
    extra: Vec<String>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl ShmGuard {
    pub fn new(tag: &str) -> ShmGuard {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("sqtest_{}_{}_{n}", tag, std::process::id());
        let _ = slick_queue::remove(&name);
        ShmGuard { name, extra: Vec::new() }
    }

    /// Another name removed with this guard.
    pub fn also(&mut self, suffix: &str) -> String {
        let name = format!("{}_{suffix}", self.name);
        let _ = slick_queue::remove(&name);
        self.extra.push(name.clone());
        name
    }

    /// The object's path under /dev/shm (Linux).
    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!("/dev/shm/{}", self.name))
    }
}

impl Drop for ShmGuard {
    fn drop(&mut self) {
        let _ = slick_queue::remove(&self.name);
        for n in &self.extra {
            let _ = slick_queue::remove(n);
        }
    }
}

/// Little-endian readers for raw segment bytes.
pub fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}

pub fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().unwrap())
}

/// A 64-byte header with the given fields (little-endian), for crafting
/// segments by hand.
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
pub fn segment(size: u32, element_size: u32, ips: u32, read_last: bool) -> Vec<u8> {
    let g = slick_queue::Geometry::new(size, element_size, ips).unwrap();
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

/// Path of one of this crate's example binaries (built by `cargo test` /
/// `cargo nextest run` next to the test binaries).
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let p = dir.join("examples").join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(p.exists(), "example binary {} is missing: build it with `cargo build --examples`", p.display());
    p
}
