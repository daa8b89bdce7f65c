//! `slickq tail NAME`: a broadcast reader that prints records as they are
//! published, with loss events.

use std::io::{BufWriter, Write};
use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;
use slick_queue::{ByteQueue, ByteRecord};

use crate::fail::{out, Result};
use crate::open::{oldest_index, open_queue_read_only};
use crate::output::{trim_zeros, write_json_line, Format};
use crate::units::parse_duration;

/// The long help of `slickq tail` (`slickq tail --help`).
pub const ABOUT: &str = "\
Print a queue's records as they are published.

tail joins the queue as a broadcast reader with a private cursor: it sees
every record, takes none away from other consumers, and never writes to the
queue. By default it starts with the last published record (on a queue
made without read_last: with the next record published); --from-start
starts with the oldest record still in the ring. Without --follow it stops
once it has caught up with the producers.

Each record is printed as `index=I elements=N bytes=B <payload>`. When the
producers lap this reader, the records it missed are reported as
`lost N elements before index I`. A record whose bytes a producer may have
overwritten while they were being copied is marked `(overwritten)`.";

#[derive(Args, Debug)]
pub struct TailArgs {
    /// The queue's name.
    name: String,
    /// Start with the oldest record still in the ring instead of the last published one.
    #[arg(long)]
    from_start: bool,
    /// Keep printing records as they are published (until interrupted, --count or --idle-timeout).
    #[arg(short, long)]
    follow: bool,
    /// How to print each record's bytes.
    #[arg(long, value_enum, default_value = "hex")]
    format: Format,
    /// Stop after this many records.
    #[arg(short = 'n', long, value_name = "N")]
    count: Option<u64>,
    /// With --follow: stop after this long without a new record.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    idle_timeout: Option<Duration>,
    /// Show at most this many bytes of each record (hex, u64 and utf8 formats).
    #[arg(long, default_value_t = 32, value_name = "BYTES")]
    max_bytes: usize,
    /// Print one JSON object per line (records and loss events) instead of text.
    #[arg(long, conflicts_with = "format")]
    json: bool,
}

#[derive(Serialize)]
#[serde(tag = "event", rename_all = "lowercase")]
enum Event {
    Record { index: u64, elements: usize, bytes: usize, hex: String, utf8: String, overwritten: bool },
    Loss { lost_elements: u64, before_index: u64 },
}

/// How long one wait for a record lasts before output is flushed and the
/// idle timeout checked again.
const SLICE: Duration = Duration::from_millis(100);

/// Where a reader that wants "the last published record, then what follows" starts.
fn start_index(q: &ByteQueue) -> u64 {
    match q.read_last() {
        Ok(Some(rec)) => rec.index(),
        _ => q.initial_reading_index(),
    }
}

/// Runs `tail`.
pub fn run(o: TailArgs) -> Result<()> {
    let q = open_queue_read_only(&o.name)?;
    let mut cursor = if o.from_start { oldest_index(&q, &o.name) } else { start_index(&q) };
    if o.follow {
        eprintln!(
            "slickq: following {} from index {cursor} (capacity {}, element size {}); Ctrl-C stops",
            q.name().unwrap_or(&o.name),
            q.capacity(),
            q.element_size()
        );
    }
    let stdout = std::io::stdout();
    let mut w = BufWriter::new(stdout.lock());
    let mut printed = 0u64;
    let mut losses = q.loss_count();
    let mut buf = Vec::new();
    let mut last_record = Instant::now();
    if o.from_start && cursor > 0 {
        // What producers overwrote before tail started.
        emit(&mut w, &o, &Event::Loss { lost_elements: cursor, before_index: cursor })?;
    }
    if o.follow {
        // Ctrl-C ends the loop instead of the process: a reader killed while
        // asleep on the doorbell would leave its sleeper count behind.
        crate::interrupt::graceful();
    }
    let stop = crate::interrupt::stopped;
    while o.count.is_none_or(|c| printed < c) && !stop() {
        let rec = match q.read(&mut cursor) {
            Some(rec) => Some(rec),
            None if !o.follow => break,
            None => {
                w.flush().map_err(out)?;
                q.read_timeout_or_stop(&mut cursor, Some(SLICE), &stop)
            }
        };
        let Some(rec) = rec else {
            if o.idle_timeout.is_some_and(|t| last_record.elapsed() >= t) {
                break;
            }
            continue;
        };
        last_record = Instant::now();
        buf.resize(rec.byte_len(), 0);
        rec.copy_to(&mut buf);
        let overwritten = rec.is_overwritten();
        let lost_now = q.loss_count();
        if lost_now > losses {
            let ev = Event::Loss { lost_elements: lost_now - losses, before_index: rec.index() };
            emit(&mut w, &o, &ev)?;
            losses = lost_now;
        }
        print_record(&mut w, &o, &rec, &buf, overwritten)?;
        printed += 1;
    }
    w.flush().map_err(out)?;
    if stop() {
        return Err(crate::fail::Fail::Interrupted);
    }
    Ok(())
}

fn emit(w: &mut impl Write, o: &TailArgs, ev: &Event) -> Result<()> {
    if o.json {
        return write_json_line(w, ev);
    }
    if let Event::Loss { lost_elements, before_index } = ev {
        if o.format == Format::Raw {
            eprintln!("slickq: lost {lost_elements} elements before index {before_index}");
        } else {
            writeln!(w, "lost {lost_elements} elements before index {before_index}").map_err(out)?;
        }
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn print_record(w: &mut impl Write, o: &TailArgs, rec: &ByteRecord<'_>, bytes: &[u8], overwritten: bool) -> Result<()> {
    if o.json {
        let ev = Event::Record {
            index: rec.index(),
            elements: rec.len(),
            bytes: bytes.len(),
            hex: hex(bytes),
            utf8: String::from_utf8_lossy(trim_zeros(bytes)).into_owned(),
            overwritten,
        };
        return write_json_line(w, &ev);
    }
    if o.format == Format::Raw {
        return w.write_all(bytes).map_err(out);
    }
    let shown = &bytes[..bytes.len().min(o.max_bytes)];
    let more = bytes.len() - shown.len();
    let payload = match o.format {
        Format::Hex => format!("hex={}", hex(shown)),
        Format::U64 => {
            let words: Vec<String> = shown
                .chunks(8)
                .map(|c| {
                    let mut b = [0u8; 8];
                    b[..c.len()].copy_from_slice(c);
                    u64::from_le_bytes(b).to_string()
                })
                .collect();
            format!("u64={}", words.join(","))
        }
        Format::Utf8 | Format::Raw => format!("utf8={:?}", String::from_utf8_lossy(trim_zeros(shown))),
    };
    let more = if more > 0 { format!(" (+{more} bytes)") } else { String::new() };
    let flag = if overwritten { " (overwritten)" } else { "" };
    writeln!(w, "index={} elements={} bytes={} {payload}{more}{flag}", rec.index(), rec.len(), bytes.len()).map_err(out)
}
