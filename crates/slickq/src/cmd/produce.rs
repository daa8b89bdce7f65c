//! `slickq produce NAME`: stdin lines (or fixed-size records) into a queue.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use slick_queue::ByteQueue;

use crate::fail::{msg, Result};
use crate::open::open_queue;
use crate::units::{human_bytes, parse_size};

/// The long help of `slickq produce` (`slickq produce --help`).
pub const ABOUT: &str = "\
Publish stdin into a queue.

By default each line of stdin (without its line ending) becomes one record,
spanning as many elements as it needs, the last one padded with zero bytes.
With --record-size B, stdin is cut into B-byte records instead (binary
input). The queue must exist unless --create SIZE is given, which creates it
with SIZE elements of --element-size bytes when it does not exist yet.

The queue is lossy: producers never wait for consumers, so a consumer that
is more than a ring behind loses records.";

#[derive(Args, Debug)]
pub struct ProduceArgs {
    /// The queue's name.
    name: String,
    /// Create the queue with this capacity (elements, a power of two) if it does not exist.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, requires = "element_size")]
    create: Option<u64>,
    /// Element size in bytes when creating (must match the queue's if it exists).
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    element_size: Option<u64>,
    /// Elements per control slot when creating (a power of two, default 1).
    #[arg(long, value_name = "K")]
    items_per_slot: Option<u32>,
    /// Permission bits when creating, in octal (default 600; setuid, setgid and sticky bits are refused).
    #[arg(long, value_name = "OCTAL", value_parser = parse_mode)]
    mode: Option<u32>,
    /// Cut stdin into records of exactly this many bytes instead of lines.
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    record_size: Option<u64>,
    /// Read from this file instead of stdin.
    #[arg(short, long, value_name = "FILE")]
    input: Option<PathBuf>,
}

/// Parses `--mode`: octal permission bits, setuid, setgid and sticky refused.
fn parse_mode(s: &str) -> Result<u32, String> {
    let digits = s.strip_prefix("0o").unwrap_or(s);
    match u32::from_str_radix(digits, 8) {
        Ok(m) if m <= 0o777 => Ok(m),
        Ok(m) if m <= 0o7777 => Err(format!(
            "{s:?} has setuid, setgid or sticky bits ({:o}): a queue's mode may only hold permission bits (0 to 777)",
            m & 0o7000
        )),
        _ => Err(format!("{s:?} is not an octal permission mode such as 600 or 0660")),
    }
}

fn to_u32(what: &str, v: u64) -> Result<u32> {
    u32::try_from(v).map_err(|_| msg(format!("{what} {v} is too large (at most {})", u32::MAX)))
}

fn attach(o: &ProduceArgs) -> Result<ByteQueue> {
    let Some(size) = o.create else {
        if o.items_per_slot.is_some() || o.mode.is_some() {
            return Err(msg("--items-per-slot and --mode only apply with --create"));
        }
        let q = open_queue(&o.name)?;
        if let Some(es) = o.element_size {
            if u64::from(q.element_size()) != es {
                return Err(msg(format!(
                    "queue {:?} has {}-byte elements, not {es} (--element-size)",
                    o.name,
                    q.element_size()
                )));
            }
        }
        return Ok(q);
    };
    let es = o.element_size.ok_or_else(|| msg("--create needs --element-size"))?;
    let mut opts = crate::open::options();
    if let Some(k) = o.items_per_slot {
        opts = opts.items_per_slot(k);
    }
    if let Some(m) = o.mode {
        opts = opts.mode(m);
    }
    ByteQueue::create_or_open(&o.name, to_u32("capacity", size)?, to_u32("element size", es)?, &opts)
        .map_err(|e| msg(format!("cannot create or open queue {:?}: {e}", o.name)))
}

/// Runs `produce`.
pub fn run(o: ProduceArgs) -> Result<()> {
    let q = attach(&o)?;
    let max = q.capacity() as usize * q.element_size() as usize;
    let input: Box<dyn Read> = match &o.input {
        Some(p) => Box::new(std::fs::File::open(p).map_err(|e| msg(format!("cannot open {}: {e}", p.display())))?),
        None => Box::new(std::io::stdin().lock()),
    };
    let mut input = BufReader::with_capacity(1 << 16, input);
    let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    pb.set_style(
        ProgressStyle::with_template("{spinner} {pos} records published ({msg})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let (mut records, mut bytes) = (0u64, 0u64);
    let publish = |rec: &[u8], records: &mut u64, bytes: &mut u64| -> Result<()> {
        q.push(rec).map_err(|e| msg(format!("cannot publish record {}: {e}", *records + 1)))?;
        *records += 1;
        *bytes += rec.len() as u64;
        if records.is_multiple_of(1024) {
            pb.set_position(*records);
            pb.set_message(human_bytes(*bytes as f64));
        }
        Ok(())
    };
    let read_err = |e: std::io::Error| msg(format!("cannot read input: {e}"));
    match o.record_size {
        Some(0) => return Err(msg("--record-size must be at least 1 byte")),
        Some(rs) if rs > max as u64 => {
            return Err(msg(format!(
                "--record-size {rs} is larger than the queue can hold in one record ({max} bytes)"
            )))
        }
        Some(rs) => {
            let mut rec = vec![0u8; rs as usize];
            loop {
                let mut got = 0;
                while got < rec.len() {
                    match input.read(&mut rec[got..]) {
                        Ok(0) => break,
                        Ok(n) => got += n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(read_err(e)),
                    }
                }
                if got == 0 {
                    break;
                }
                if got < rec.len() {
                    pb.finish_and_clear();
                    return Err(msg(format!(
                        "input ended with {got} bytes, not a whole record of {rs} bytes; they were not published \
                         ({records} records were)"
                    )));
                }
                publish(&rec, &mut records, &mut bytes)?;
            }
        }
        None => {
            let mut line = Vec::new();
            // A line is read at most this far (the largest record, plus
            // "\r\n"): input without newlines (`/dev/zero`) is an error
            // once it is too long, never buffered whole.
            let limit = max as u64 + 2;
            loop {
                line.clear();
                let n = (&mut input).take(limit).read_until(b'\n', &mut line).map_err(read_err)?;
                if n == 0 {
                    break;
                }
                if line.last() != Some(&b'\n') && n as u64 == limit {
                    pb.finish_and_clear();
                    return Err(msg(format!(
                        "line {} is longer than {max} bytes, the largest record queue {:?} holds ({} elements of \
                         {} bytes); stopped reading it; {records} records were published",
                        records + 1,
                        o.name,
                        q.capacity(),
                        q.element_size()
                    )));
                }
                if line.last() == Some(&b'\n') {
                    line.pop();
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                }
                if line.len() > max {
                    pb.finish_and_clear();
                    return Err(msg(format!(
                        "line {} is {} bytes; the largest record queue {:?} holds is {max} bytes \
                         ({} elements of {} bytes); {records} records were published",
                        records + 1,
                        line.len(),
                        o.name,
                        q.capacity(),
                        q.element_size()
                    )));
                }
                publish(&line, &mut records, &mut bytes)?;
            }
        }
    }
    pb.finish_and_clear();
    eprintln!("slickq: published {records} records ({}) to {}", human_bytes(bytes as f64), q.name().unwrap_or(&o.name));
    Ok(())
}
