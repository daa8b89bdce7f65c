//! Reads records from the shared-memory queue NAME and checks every one.
//!
//! ```text
//! cargo run --example consume -- NAME COUNT ELEMENT_SIZE [options]
//! ```
//! With `--size` it creates the queue if needed (start it before the
//! producers); otherwise it waits for the queue to exist. It stops when it
//! has accounted for COUNT records per producer (received + lost), or after
//! `--idle-timeout` seconds without a record. Every record must carry intact
//! bytes and, per producer, increasing sequence numbers; the last line is a
//! `key=value` summary, and the exit status is 0 only if every record checked
//! out and nothing went unaccounted for.

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

use slick_queue::{ByteQueue, Error, Options, SharedCursor};

const USAGE: &str = "usage: consume NAME COUNT ELEMENT_SIZE [--size N] [--producers P] [--shared-cursor CURSOR]
                [--from-now] [--idle-timeout SECS] [--no-read-last] [--read-last] [--dump FILE] [--quiet]

  NAME             shared-memory queue name (/dev/shm/NAME)
  COUNT            records expected from each producer
  ELEMENT_SIZE     bytes per element
  --size N         create the queue with capacity N if it does not exist yet
  --producers P    number of producers (default 1)
  --shared-cursor  claim records through the work-stealing cursor object CURSOR
                   (shared with other consumers); stops when idle
  --from-now       start at the current write index instead of 0
  --idle-timeout   give up after this many seconds without a record (default 10)
  --read-last      print the queue's last published record before exiting
  --dump FILE      write one 'id seq' line per received record
  --quiet          only print the summary";

fn main() {
    let args = common::Args::parse(USAGE, &["from-now", "no-read-last", "read-last", "quiet"]);
    let name: String = args.pos(USAGE, 0, "NAME");
    let count: u64 = args.pos(USAGE, 1, "COUNT");
    let element_size: u32 = args.pos(USAGE, 2, "ELEMENT_SIZE");
    let producers: u64 = args.get(USAGE, "producers").unwrap_or(1);
    let idle = Duration::from_secs_f64(args.get(USAGE, "idle-timeout").unwrap_or(10.0));
    let quiet = args.has("quiet");
    let opts = Options::new().read_last(!args.has("no-read-last"));

    let q = attach(&name, args.get(USAGE, "size"), element_size, &opts, idle).unwrap_or_else(|e| {
        eprintln!("consume: cannot attach to {name:?}: {e}");
        std::process::exit(1)
    });
    let cursor_obj = args.get::<String>(USAGE, "shared-cursor").map(|c| {
        SharedCursor::create_or_open(&c, &opts).unwrap_or_else(|e| {
            eprintln!("consume: cannot attach to cursor {c:?}: {e}");
            std::process::exit(1)
        })
    });
    let mut dump = args.get::<String>(USAGE, "dump").map(|p| {
        std::io::BufWriter::new(std::fs::File::create(&p).unwrap_or_else(|e| {
            eprintln!("consume: cannot create {p}: {e}");
            std::process::exit(1)
        }))
    });

    let mut cursor = if args.has("from-now") { q.initial_reading_index() } else { 0 };
    let expected = count * producers;
    let mut next_seq: HashMap<u32, u64> = HashMap::new();
    let (mut received, mut bad, mut reordered) = (0u64, 0u64, 0u64);
    let mut buf = Vec::new();
    let start = Instant::now();
    loop {
        if cursor_obj.is_none() && received + q.loss_count() >= expected {
            break;
        }
        let rec = match &cursor_obj {
            Some(c) => q.read_shared_timeout(c, idle),
            None => q.read_timeout(&mut cursor, idle),
        };
        let Some(rec) = rec else { break };
        buf.resize(rec.byte_len(), 0);
        rec.copy_to(&mut buf);
        received += 1;
        match common::check(&buf) {
            Some((id, seq)) if !rec.is_overwritten() => {
                let next = next_seq.entry(id).or_insert(0);
                if seq < *next {
                    reordered += 1;
                }
                *next = seq + 1;
                if let Some(d) = dump.as_mut() {
                    let _ = writeln!(d, "{id} {seq}");
                }
                if !quiet && received <= 3 {
                    println!("record index={} elements={} producer={id} seq={seq}", rec.index(), rec.len());
                }
            }
            _ => bad += 1,
        }
    }
    if let Some(d) = dump.as_mut() {
        let _ = d.flush();
    }
    if args.has("read-last") {
        match q.read_last() {
            Ok(Some(rec)) => {
                let bytes = rec.to_vec();
                match common::check(&bytes) {
                    Some((id, seq)) => println!("last index={} producer={id} seq={seq}", rec.index()),
                    None => println!("last index={} (unrecognised payload)", rec.index()),
                }
            }
            Ok(None) => println!("last none"),
            Err(e) => println!("last error: {e}"),
        }
    }
    let lost = q.loss_count();
    let secs = start.elapsed().as_secs_f64();
    let complete = cursor_obj.is_some() || received + lost >= expected;
    let ok = bad == 0 && reordered == 0 && complete;
    println!(
        "received={received} lost={lost} bad={bad} reordered={reordered} producers_seen={} seconds={secs:.3} {}",
        next_seq.len(),
        if ok { "ok" } else { "FAILED" }
    );
    std::process::exit(if ok { 0 } else { 1 });
}

fn attach(
    name: &str,
    size: Option<u32>,
    element_size: u32,
    opts: &Options,
    wait: Duration,
) -> Result<ByteQueue, Error> {
    if let Some(size) = size {
        return ByteQueue::create_or_open(name, size, element_size, opts);
    }
    let deadline = Instant::now() + wait;
    loop {
        match ByteQueue::open(name, element_size, opts) {
            Err(Error::NotFound { .. }) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            other => return other,
        }
    }
}
