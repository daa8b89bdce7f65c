//! `slickq consume NAME`: a queue's records to stdout.

use std::io::{BufWriter, Write};
use std::time::{Duration, Instant};

use clap::Args;
use slick_queue::{ByteRecord, SharedCursor};

use crate::fail::{msg, out, Result};
use crate::open::{oldest_index, open_queue};
use crate::output::trim_zeros;
use crate::units::parse_duration;

/// The long help of `slickq consume` (`slickq consume --help`).
pub const ABOUT: &str = "\
Write a queue's records to stdout.

By default consume starts with the next record to be published (use
--from-start for everything still in the ring) and prints each record's
bytes with trailing zero bytes removed, followed by a newline: the inverse
of `slickq produce`. --raw writes every record's bytes exactly, with no
separator. With --shared-cursor NAME the consumer claims records through a
work-stealing cursor object shared with other consumers (each record goes to
one of them); the object is created, starting at 0, if it does not exist.

consume stops after --count records or after --idle-timeout without a new
record; otherwise it runs until interrupted. Lost records are reported on
stderr.";

#[derive(Args, Debug)]
pub struct ConsumeArgs {
    /// The queue's name.
    name: String,
    /// Start with the oldest record still in the ring instead of the next one published.
    #[arg(long, conflicts_with = "shared_cursor")]
    from_start: bool,
    /// Stop after this many records.
    #[arg(short = 'n', long, value_name = "N")]
    count: Option<u64>,
    /// Stop after this long without a new record (e.g. 2s).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    idle_timeout: Option<Duration>,
    /// Write each record's bytes exactly, with no newline and nothing trimmed.
    #[arg(long)]
    raw: bool,
    /// Claim records through this work-stealing cursor object (shared with other consumers).
    #[arg(long, value_name = "CURSOR_SHM_NAME")]
    shared_cursor: Option<String>,
    /// Say on stderr where reading starts and how many records were consumed.
    #[arg(short, long)]
    verbose: bool,
}

const SLICE: Duration = Duration::from_millis(100);

/// Runs `consume`.
pub fn run(o: ConsumeArgs) -> Result<()> {
    let q = open_queue(&o.name)?;
    let shared = match &o.shared_cursor {
        Some(c) => Some({
            // A cursor object is 8 bytes: anything else (the queue itself, or
            // another queue) would have its first word moved by our claims.
            if let Ok(info) = slick_queue::inspect::segment_info(c) {
                if info.len != slick_queue::CURSOR_LEN {
                    return Err(msg(format!(
                        "{c:?} is not a cursor object: it is {} bytes long, a cursor object is exactly {} \
                         (is it a queue?); pass the name of an 8-byte cursor object, or a new name",
                        info.len,
                        slick_queue::CURSOR_LEN
                    )));
                }
            }
            SharedCursor::create_or_open(c, &crate::open::options())
                .map_err(|e| msg(format!("cannot open the cursor object {c:?}: {e}")))?
        }),
        None => None,
    };
    let mut cursor = if o.from_start { oldest_index(&q, &o.name) } else { q.initial_reading_index() };
    if o.from_start && cursor > 0 {
        eprintln!("slickq: lost {cursor} elements before index {cursor} (overwritten before consume started)");
    }
    if o.verbose {
        match &shared {
            Some(c) => eprintln!(
                "slickq: consuming {} through cursor {} (at {})",
                q.name().unwrap_or(&o.name),
                c.name(),
                c.load(std::sync::atomic::Ordering::Acquire)
            ),
            None => eprintln!("slickq: consuming {} from index {cursor}", q.name().unwrap_or(&o.name)),
        }
    }
    let stdout = std::io::stdout();
    let mut w = BufWriter::new(stdout.lock());
    let mut got = 0u64;
    let mut losses = q.loss_count();
    let mut buf = Vec::new();
    let mut last = Instant::now();
    let read_now = |cursor: &mut u64| -> Option<ByteRecord<'_>> {
        match &shared {
            Some(c) => q.read_shared(c),
            None => q.read(cursor),
        }
    };
    // Ctrl-C: the record in hand (claimed from a shared cursor, gone for
    // the other consumers) is written out, then the loop ends.
    crate::interrupt::graceful();
    while o.count.is_none_or(|c| got < c) && !crate::interrupt::stopped() {
        let rec = match read_now(&mut cursor) {
            Some(r) => r,
            None => {
                w.flush().map_err(out)?;
                let waited = match &shared {
                    Some(c) => q.read_shared_timeout(c, SLICE),
                    None => q.read_timeout(&mut cursor, SLICE),
                };
                match waited {
                    Some(r) => r,
                    None if crate::interrupt::stopped() => break,
                    None if o.idle_timeout.is_some_and(|t| last.elapsed() >= t) => break,
                    None => continue,
                }
            }
        };
        last = Instant::now();
        buf.resize(rec.byte_len(), 0);
        rec.copy_to(&mut buf);
        let lost_now = q.loss_count();
        if lost_now > losses {
            eprintln!("slickq: lost {} elements before index {}", lost_now - losses, rec.index());
            losses = lost_now;
        }
        if rec.is_overwritten() {
            eprintln!("slickq: record at index {} may have been overwritten while it was copied", rec.index());
        }
        if o.raw {
            w.write_all(&buf).map_err(out)?;
        } else {
            w.write_all(trim_zeros(&buf)).map_err(out)?;
            w.write_all(b"\n").map_err(out)?;
        }
        got += 1;
    }
    w.flush().map_err(out)?;
    if o.verbose {
        eprintln!("slickq: consumed {got} records, {} elements lost", q.loss_count());
    }
    if crate::interrupt::stopped() {
        return Err(crate::fail::Fail::Interrupted);
    }
    Ok(())
}
