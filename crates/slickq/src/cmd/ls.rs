//! `slickq ls`: the queues in /dev/shm.

use std::io::Write;
use std::time::Duration;

use clap::Args;

use crate::fail::{out, Result};
use crate::output::{write_json, Table};
use crate::segments::{describe_attached, kept_by_holders, scan, Status, SHM_DIR};
use crate::units::parse_duration;

/// The long help of `slickq ls` (`slickq ls --help`).
pub const ABOUT: &str = "\
List the queues in /dev/shm.

Every object in /dev/shm is opened read-only and its first 64 bytes are read
(never mapped, never written). An object is a queue when it carries the
layout marker 'SLQ' + feature digit at offset 24; other objects are skipped
unless --all is given.

STATUS is one of:
  ok            ready (or legacy-initialised) with a valid geometry
  initializing  init_state 2: a creator claimed it and has not finished
  uninitialized init_state 0 although the marker is written
  truncated     the object is shorter than its header's geometry needs
  corrupt       the marker is there but the header is inconsistent
  newer         the marker carries feature bits this tool does not know
and, with --all only, for objects without the marker:
  foreign       no layout marker (another program's object, or a queue
                made by a peer older than v1.4)
  short         shorter than the 64-byte header (a cursor object is 8 bytes)
  unreadable    could not be opened (permission denied)

A queue is STALE when its status is initializing, uninitialized or truncated
(or the object is 0 bytes long: its creator died before sizing it), it was
last modified (sized by its creator) more than the grace period ago, and no
process maps it or holds it open: `slickq rm --stale` removes it. Healthy,
corrupt and newer queues are never stale.

PIDS lists the processes that map the object (from /proc/PID/maps) or hold
it open (/proc/PID/fd), and a line per such object gives their commands: the
processes attached to it. A paused or slow creator shows up there and keeps
its object from going stale. As a user other than root, only processes this
user may inspect are seen.";

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Also list objects that are not queues (no layout marker, too short, unreadable).
    #[arg(short, long)]
    all: bool,
    /// Age after which a half-initialised or truncated queue counts as stale (e.g. 500ms, 10s, 5m).
    #[arg(long, value_parser = parse_duration, default_value = "10s", value_name = "DURATION")]
    grace: Duration,
    /// Print a JSON array instead of a table.
    #[arg(long)]
    json: bool,
}

/// Lists the queues (every object with `all`), flagging stale ones.
pub fn run(a: LsArgs) -> Result<()> {
    let LsArgs { all, grace, json } = a;
    let segments = scan(grace)?;
    let hidden_unreadable = segments.iter().filter(|s| s.status == Status::Unreadable).count();
    let shown: Vec<_> = segments.into_iter().filter(|s| all || s.is_queue).collect();
    let stdout = std::io::stdout();
    let mut w = stdout.lock();
    if json {
        write_json(&mut w, &shown)?;
    } else if shown.is_empty() {
        let what = if all { "objects" } else { "slick-queue queues" };
        writeln!(w, "no {what} in {SHM_DIR}").map_err(out)?;
    } else {
        let mut t = Table::new(
            &[
                "NAME",
                "STATUS",
                "CAPACITY",
                "ELEM_SIZE",
                "IPS",
                "FEATURES",
                "WRITE_IDX",
                "LAST_PUB",
                "MODE",
                "OWNER",
                "BYTES",
                "PIDS",
            ],
            &[false, false, true, true, true, false, true, true, false, false, true, false],
        );
        let dash = || "-".to_owned();
        for s in &shown {
            let status = if s.stale { format!("{},stale", s.status.as_str()) } else { s.status.as_str().to_owned() };
            let mut cells = vec![s.shown.clone(), status];
            match &s.header {
                Some(h) => cells.extend([
                    h.capacity.to_string(),
                    h.element_size.to_string(),
                    h.items_per_slot.to_string(),
                    if h.features.is_empty() { dash() } else { h.features.join(",") },
                    h.write_index.to_string(),
                    h.last_published.map_or_else(|| "none".to_owned(), |l| l.to_string()),
                ]),
                None => cells.extend(std::iter::repeat_with(dash).take(6)),
            }
            let pids = if s.attached.is_empty() {
                dash()
            } else {
                s.attached.iter().map(|a| a.pid.to_string()).collect::<Vec<_>>().join(",")
            };
            cells.extend([s.mode.clone(), s.owner.clone(), s.bytes.to_string(), pids]);
            t.row(cells);
        }
        t.write(&mut w)?;
        for s in shown.iter().filter(|s| s.note.is_some()) {
            let mut note = format!("{}: {}", s.shown, s.note.as_deref().unwrap_or(""));
            if s.stale {
                let age = s.age_secs.unwrap_or(0.0);
                note.push_str(&format!(
                    " [stale: last modified {age:.0}s ago, grace {}s; `slickq rm --stale` removes it]",
                    grace.as_secs_f64()
                ));
            }
            writeln!(w, "{note}").map_err(out)?;
        }
        for s in shown.iter().filter(|s| !s.attached.is_empty()) {
            let mut line = format!("{}: attached: {}", s.shown, describe_attached(&s.attached));
            if kept_by_holders(s, grace) {
                line.push_str(" [not stale although old: a process still has it]");
            }
            writeln!(w, "{line}").map_err(out)?;
        }
    }
    if !all && hidden_unreadable > 0 {
        eprintln!(
            "slickq: {hidden_unreadable} object(s) in {SHM_DIR} could not be read (permission denied); \
             `slickq ls --all` lists them"
        );
    }
    Ok(())
}
