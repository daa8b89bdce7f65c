//! Publishes COUNT records into the shared-memory queue NAME.
//!
//! ```text
//! cargo run --example produce -- NAME COUNT ELEMENT_SIZE [options]
//! ```
//! Creates the queue (capacity `--size`, default 65536) or opens it if it
//! exists. Each record is `--record-len` elements (default 1) carrying the
//! producer id and a sequence number 0..COUNT (see `common/mod.rs`).

mod common;

use std::time::{Duration, Instant};

use slick_queue::{ByteQueue, Options};

const USAGE: &str = "usage: produce NAME COUNT ELEMENT_SIZE [--size N] [--id ID] [--record-len ELEMENTS]
                [--items-per-slot K] [--no-read-last] [--pace-us MICROS] [--open-only]

  NAME          shared-memory queue name (/dev/shm/NAME)
  COUNT         records to publish
  ELEMENT_SIZE  bytes per element (at least 8)
  --size N      capacity when creating the queue (power of two, default 65536)
  --id ID       producer id written into each record (default 0)
  --record-len  elements per record (default 1)
  --pace-us     sleep this long after every record (default: no pause)
  --open-only   open an existing queue instead of create-or-open";

fn main() {
    let args = common::Args::parse(USAGE, &["no-read-last", "open-only"]);
    let name: String = args.pos(USAGE, 0, "NAME");
    let count: u64 = args.pos(USAGE, 1, "COUNT");
    let element_size: u32 = args.pos(USAGE, 2, "ELEMENT_SIZE");
    if element_size < 8 {
        common::fail(USAGE, "ELEMENT_SIZE must be at least 8 (the sequence number)");
    }
    let size: u32 = args.get(USAGE, "size").unwrap_or(65536);
    let id: u32 = args.get(USAGE, "id").unwrap_or(0);
    let record_len: u32 = args.get(USAGE, "record-len").unwrap_or(1);
    let pace = args.get::<u64>(USAGE, "pace-us").map(Duration::from_micros);
    let mut opts = Options::new().read_last(!args.has("no-read-last"));
    if let Some(k) = args.get(USAGE, "items-per-slot") {
        opts = opts.items_per_slot(k);
    }

    let q = if args.has("open-only") {
        ByteQueue::open(&name, element_size, &opts)
    } else {
        ByteQueue::create_or_open(&name, size, element_size, &opts)
    };
    let q = q.unwrap_or_else(|e| {
        eprintln!("produce: cannot attach to {name:?}: {e}");
        std::process::exit(1)
    });

    let mut record = vec![0u8; (record_len * element_size) as usize];
    let start = Instant::now();
    for seq in 0..count {
        common::fill(&mut record, id, seq);
        let result = q.reserve(record_len).and_then(|i| {
            q.write(i, &record)?;
            q.publish(i, record_len)
        });
        if let Err(e) = result {
            eprintln!("produce: {e}");
            std::process::exit(1);
        }
        if let Some(p) = pace {
            std::thread::sleep(p);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "produced={count} id={id} queue={} capacity={} element_size={} seconds={secs:.3}",
        q.name().unwrap_or("?"),
        q.capacity(),
        q.element_size()
    );
}
