//! `slickq stat NAME`: publish rate per interval, and a reader's lag.

use std::io::Write;
use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;
use slick_queue::inspect::read_bytes;

use crate::fail::{msg, out, Result};
use crate::open::open_queue_read_only;
use crate::output::write_json_line;
use crate::segments::describe_open_error;
use crate::units::{human_bytes, parse_duration};

/// The long help of `slickq stat` (`slickq stat --help`).
pub const ABOUT: &str = "\
Measure a queue's publish rate and, given a reader's cursor, its lag.

stat joins the queue as a broadcast reader (it never writes) and counts the
records published in each interval, printing records/s, bytes/s (whole
elements) and elements/s (the advance of the write index). With --cursor
NAME (a work-stealing cursor object, 8 bytes in /dev/shm, read without
mapping it) or --cursor-value N it also prints that reader's lag: how many
elements it is behind the write index. A lag above the capacity means the
reader is being lapped and loses records.";

#[derive(Args, Debug)]
pub struct StatArgs {
    /// The queue's name.
    name: String,
    /// Time between two samples (e.g. 250ms, 1s).
    #[arg(short, long, value_parser = parse_duration, default_value = "1s", value_name = "DURATION")]
    interval: Duration,
    /// Stop after this many samples (default: until interrupted).
    #[arg(short = 'n', long, value_name = "N")]
    count: Option<u64>,
    /// A work-stealing cursor object whose reader's lag to report.
    #[arg(long, value_name = "CURSOR_SHM_NAME", conflicts_with = "cursor_value")]
    cursor: Option<String>,
    /// A reader's cursor value (an element index) whose lag to report.
    #[arg(long, value_name = "INDEX")]
    cursor_value: Option<u64>,
    /// Print one JSON object per sample instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Sample {
    /// Seconds since stat started, at the end of the interval.
    t: f64,
    /// Length of the interval in seconds.
    seconds: f64,
    records: u64,
    records_per_sec: f64,
    bytes_per_sec: f64,
    elements_per_sec: f64,
    write_index: u64,
    capacity: u32,
    /// Elements published while stat's own reader was lapped (not counted in records).
    unseen_elements: u64,
    cursor: Option<u64>,
    lag: Option<u64>,
    /// lag / capacity; above 1 the reader loses records.
    lag_ratio: Option<f64>,
}

fn read_cursor(name: &str) -> Result<u64> {
    let mut b = [0u8; 8];
    let n = read_bytes(name, 0, &mut b).map_err(|e| describe_open_error(name, e))?;
    if n < 8 {
        return Err(msg(format!("cursor object {name:?} is only {n} bytes long; a work-stealing cursor is 8 bytes")));
    }
    Ok(u64::from_le_bytes(b))
}

/// Runs `stat`.
pub fn run(o: StatArgs) -> Result<()> {
    if o.interval.is_zero() {
        return Err(msg("--interval must be longer than 0"));
    }
    let q = open_queue_read_only(&o.name)?;
    if let Some(c) = &o.cursor {
        read_cursor(c)?;
    }
    let es = q.element_size() as u64;
    let cap = q.capacity();
    let mut cursor = q.initial_reading_index();
    let mut prev_write = cursor;
    let mut losses = q.loss_count();
    let start = Instant::now();
    let stdout = std::io::stdout();
    let mut w = stdout.lock();
    if !o.json {
        writeln!(
            w,
            "{:>8}  {:>10}  {:>12}  {:>10}  {:>12}  {:>10}",
            "TIME", "RECORDS/S", "BYTES/S", "ELEMENTS/S", "WRITE_IDX", "LAG"
        )
        .map_err(out)?;
    }
    let mut n = 0u64;
    // Ctrl-C ends the loop instead of the process (a reader killed while
    // asleep on the doorbell would leave its sleeper count behind); the
    // interval in progress is not printed.
    crate::interrupt::graceful();
    let stop = crate::interrupt::stopped;
    while o.count.is_none_or(|c| n < c) {
        let t0 = Instant::now();
        let deadline = t0 + o.interval;
        let (mut records, mut elements) = (0u64, 0u64);
        loop {
            let now = Instant::now();
            if now >= deadline || stop() {
                break;
            }
            if let Some(rec) = q.read_timeout_or_stop(&mut cursor, Some(deadline - now), &stop) {
                records += 1;
                elements += rec.len() as u64;
            }
        }
        if stop() {
            return Err(crate::fail::Fail::Interrupted);
        }
        let secs = t0.elapsed().as_secs_f64();
        let write = q.initial_reading_index();
        let lost_now = q.loss_count();
        let reader = match (&o.cursor, o.cursor_value) {
            (Some(c), _) => Some(read_cursor(c)?),
            (None, v) => v,
        };
        let lag = reader.map(|c| write.saturating_sub(c));
        let s = Sample {
            t: start.elapsed().as_secs_f64(),
            seconds: secs,
            records,
            records_per_sec: records as f64 / secs,
            bytes_per_sec: (elements * es) as f64 / secs,
            elements_per_sec: write.saturating_sub(prev_write) as f64 / secs,
            write_index: write,
            capacity: cap,
            unseen_elements: lost_now - losses,
            cursor: reader,
            lag,
            lag_ratio: lag.map(|l| l as f64 / f64::from(cap)),
        };
        prev_write = write;
        losses = lost_now;
        if o.json {
            write_json_line(&mut w, &s)?;
        } else {
            let lag = match s.lag {
                None => "-".to_owned(),
                Some(l) if l > u64::from(cap) => format!("{l} (lapped: losing records)"),
                Some(l) => format!("{l} ({:.1}%)", 100.0 * s.lag_ratio.unwrap_or(0.0)),
            };
            let unseen = if s.unseen_elements > 0 {
                format!("  (stat was lapped: {} elements unseen)", s.unseen_elements)
            } else {
                String::new()
            };
            writeln!(
                w,
                "{:>7.1}s  {:>10.0}  {:>10}/s  {:>10.0}  {:>12}  {:>10}{unseen}",
                s.t,
                s.records_per_sec,
                human_bytes(s.bytes_per_sec),
                s.elements_per_sec,
                s.write_index,
                lag
            )
            .map_err(out)?;
            w.flush().map_err(out)?;
        }
        n += 1;
    }
    Ok(())
}
