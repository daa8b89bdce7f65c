//! Hardening across real processes, one file per concern:
//!
//! * `dead`: dead producers, creators and consumers (killed with SIGKILL);
//! * `hostile`: a hostile peer scribbling over a live segment;
//! * `permissions`: other users' objects and creation modes;
//! * `soak`: a checksummed soak with lapping.
//!
//! Same harness as the rest of the `processes` test binary: it re-executes
//! itself with `SQ_ROLE=<role>`; each file's roles are in its `run_role`.

mod dead;
mod hostile;
mod permissions;
mod soak;

use std::io::Write as _;
use std::time::{Duration, Instant};

use libtest_mimic::{Failed, Trial};
use slick_queue::{ByteRecord, Error};

pub fn trials() -> Vec<Trial> {
    [dead::trials(), hostile::trials(), permissions::trials(), soak::trials()].into_iter().flatten().collect()
}

/// The roles of these files; `None` when `role` is not one of them.
pub fn run_role(role: &str, a: &[String]) -> Option<i32> {
    let result: Result<(), Error> = dead::run_role(role, a)
        .or_else(|| hostile::run_role(role, a))
        .or_else(|| permissions::run_role(role, a))
        .or_else(|| soak::run_role(role, a))?;
    Some(match result {
        Ok(()) => 0,
        Err(e) => {
            say(&format!("error={e}"));
            3
        }
    })
}

/// Prints a line and flushes it (the parent waits for some of them).
pub(crate) fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Stops here until killed (gives up after 10 minutes, in case the test
/// that should kill us died itself).
pub(crate) fn hang() -> ! {
    std::thread::sleep(Duration::from_secs(600));
    std::process::exit(4)
}

/// Polls `f` until it returns a value, failing after `limit`.
pub(crate) fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> Result<T, Failed> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Ok(v);
        }
        if Instant::now() > deadline {
            return Err(format!("{what}: not within {limit:?}").into());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// One 16-byte record `[seq][7]` of the dead-process tests.
pub(crate) fn rec16(seq: u64) -> [u8; 16] {
    let mut rec = [0u8; 16];
    rec[..8].copy_from_slice(&seq.to_le_bytes());
    rec[8..].copy_from_slice(&7u64.to_le_bytes());
    rec
}

/// The sequence number in a record's first 8 bytes.
pub(crate) fn seq_of(r: &ByteRecord<'_>) -> u64 {
    let mut b = [0u8; 8];
    r.copy_to(&mut b);
    u64::from_le_bytes(b)
}
