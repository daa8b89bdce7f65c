//! Argument parsing and the record format shared by the `produce` and
//! `consume` examples (and by the interop tests that drive them).
//!
//! A record's first element carries:
//! bytes 0..8 the producer's sequence number (u64 LE), bytes 8..12 the
//! producer id (u32 LE, when the element has room), and every following byte
//! `k` of the record holds `(seq + k) as u8`, so a consumer can check the whole
//! payload.

#![allow(dead_code)]

use std::collections::HashMap;
use std::process::exit;

pub struct Args {
    pub positional: Vec<String>,
    flags: HashMap<String, Option<String>>,
}

impl Args {
    /// Parses `--flag value` / `--switch` / positionals; `switches` take no value.
    pub fn parse(usage: &str, switches: &[&str]) -> Args {
        let mut positional = Vec::new();
        let mut flags = HashMap::new();
        let mut it = std::env::args().skip(1);
        while let Some(a) = it.next() {
            if a == "-h" || a == "--help" {
                println!("{usage}");
                exit(0);
            }
            if let Some(flag) = a.strip_prefix("--") {
                if switches.contains(&flag) {
                    flags.insert(flag.to_owned(), None);
                } else {
                    match it.next() {
                        Some(v) => {
                            flags.insert(flag.to_owned(), Some(v));
                        }
                        None => fail(usage, &format!("--{flag} needs a value")),
                    }
                }
            } else {
                positional.push(a);
            }
        }
        Args { positional, flags }
    }

    pub fn pos<T: std::str::FromStr>(&self, usage: &str, i: usize, what: &str) -> T {
        match self.positional.get(i).map(|s| s.parse::<T>()) {
            Some(Ok(v)) => v,
            Some(Err(_)) => fail(usage, &format!("{what}: cannot parse {:?}", self.positional[i])),
            None => fail(usage, &format!("missing {what}")),
        }
    }

    pub fn get<T: std::str::FromStr>(&self, usage: &str, flag: &str) -> Option<T> {
        match self.flags.get(flag) {
            Some(Some(v)) => match v.parse::<T>() {
                Ok(v) => Some(v),
                Err(_) => fail(usage, &format!("--{flag}: cannot parse {v:?}")),
            },
            _ => None,
        }
    }

    pub fn has(&self, flag: &str) -> bool {
        self.flags.contains_key(flag)
    }
}

pub fn fail(usage: &str, msg: &str) -> ! {
    eprintln!("error: {msg}\n\n{usage}");
    exit(2)
}

/// Fills a record of `bytes.len()` bytes for producer `id`, sequence `seq`.
pub fn fill(bytes: &mut [u8], id: u32, seq: u64) {
    for (k, b) in bytes.iter_mut().enumerate() {
        *b = (seq as u8).wrapping_add(k as u8);
    }
    bytes[..8].copy_from_slice(&seq.to_le_bytes());
    if bytes.len() >= 12 {
        bytes[8..12].copy_from_slice(&id.to_le_bytes());
    }
}

/// Decodes and checks a record: `Some((id, seq))` if every byte is as `fill`
/// wrote it.
pub fn check(bytes: &[u8]) -> Option<(u32, u64)> {
    if bytes.len() < 8 {
        return None;
    }
    let seq = u64::from_le_bytes(bytes[..8].try_into().ok()?);
    let id = if bytes.len() >= 12 { u32::from_le_bytes(bytes[8..12].try_into().ok()?) } else { 0 };
    let start = if bytes.len() >= 12 { 12 } else { 8 };
    for (k, b) in bytes.iter().enumerate().skip(start) {
        if *b != (seq as u8).wrapping_add(k as u8) {
            return None;
        }
    }
    Some((id, seq))
}
