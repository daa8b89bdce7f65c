//! `slickq bench`: quick single-producer/single-consumer throughput runs
//! (local memory and shared memory) and a ping-pong latency run, with the
//! library only.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use slick_queue::{Options, Queue};

use crate::fail::{msg, out, Result};
use crate::output::write_json;
use crate::units::{human_bytes, human_count, human_nanos, parse_size};

/// The long help of `slickq bench` (`slickq bench --help`).
pub const ABOUT: &str = "\
Quick throughput and latency runs of the library on this machine.

Runs, with a progress bar:
  spsc-local   one producer thread and one consumer thread over a queue in
               local memory: records/s and bytes/s delivered
  spsc-shm     the same over a shared-memory segment (created under a unique
               name and removed afterwards)
  ping-pong    two threads bouncing one record over two queues: round-trip
               latency percentiles
Records are 8-byte elements. The queue itself never makes a producer wait;
in the throughput runs the producer keeps itself at most half a ring ahead
of what the consumer has confirmed (flow control outside the queue), so the
numbers are sustained delivery rates. Lost records, if any, are reported.
These are quick sanity numbers, not the project's benchmark suite.";

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Records per throughput run.
    #[arg(long, default_value_t = 2_000_000, value_name = "N", value_parser = parse_size)]
    records: u64,
    /// Round trips in the ping-pong run.
    #[arg(long, default_value_t = 20_000, value_name = "N", value_parser = parse_size)]
    pings: u64,
    /// Queue capacity in elements (a power of two).
    #[arg(long, default_value_t = 65_536, value_name = "SIZE", value_parser = parse_size)]
    capacity: u64,
    /// Print the summary as JSON (the progress bar still goes to stderr when it is a terminal).
    #[arg(long)]
    json: bool,
}

/// A waiting reader gives up after this long without a record once the
/// producer has finished (only a lost final record can cause that).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(1);
/// How many records a thread handles between two progress bar updates.
const TICK: u64 = 1 << 14;

#[derive(Serialize)]
struct Throughput {
    run: &'static str,
    records: u64,
    received: u64,
    lost: u64,
    out_of_order: u64,
    seconds: f64,
    records_per_sec: f64,
    bytes_per_sec: f64,
}

#[derive(Serialize)]
struct Latency {
    run: &'static str,
    round_trips: u64,
    mean_ns: f64,
    p50_ns: u64,
    p90_ns: u64,
    p99_ns: u64,
    max_ns: u64,
}

#[derive(Serialize)]
struct Summary {
    capacity: u32,
    element_size: u32,
    cpus: usize,
    throughput: Vec<Throughput>,
    latency: Latency,
}

/// One producer thread pushes `records` values, one consumer thread reads
/// them. The queue never makes a producer wait, so the producer here keeps
/// itself at most half a ring ahead of what the consumer has confirmed
/// (through an atomic counter outside the queue): the run measures the
/// throughput a consumer sustains, not how fast a producer can overwrite a
/// reader that has not started yet. Losses are still counted and reported.
fn spsc(run: &'static str, producer: &Queue<u64>, consumer: &Queue<u64>, records: u64, pb: &ProgressBar) -> Throughput {
    let done = AtomicBool::new(false);
    let consumed = AtomicU64::new(0);
    let window = u64::from(producer.capacity() / 2).max(1);
    let start = Instant::now();
    let (received, out_of_order, lost) = thread::scope(|s| {
        let (done, consumed) = (&done, &consumed);
        let reader = s.spawn(move || {
            let mut cursor = 0;
            let (mut received, mut out_of_order, mut next) = (0u64, 0u64, 0u64);
            let mut check = |v: u64, received: &mut u64| {
                if v < next {
                    out_of_order += 1;
                }
                next = v + 1;
                *received += 1;
                consumed.store(next, Ordering::Release);
            };
            while received + consumer.loss_count() < records {
                match consumer.read_timeout(&mut cursor, Duration::from_millis(10)) {
                    Some(rec) => {
                        check(rec.value(), &mut received);
                        if received % TICK == 0 {
                            pb.inc(TICK);
                        }
                    }
                    // The producer is done: drain briefly, then stop.
                    None if done.load(Ordering::Acquire) => match consumer.read_timeout(&mut cursor, DRAIN_TIMEOUT) {
                        Some(rec) => check(rec.value(), &mut received),
                        None => break,
                    },
                    None => {}
                }
            }
            pb.inc(received % TICK);
            (received, out_of_order, consumer.loss_count())
        });
        let mut failed = None;
        let mut limit = window;
        for i in 0..records {
            while i >= limit {
                limit = consumed.load(Ordering::Acquire) + window;
                if i >= limit {
                    if reader.is_finished() {
                        break;
                    }
                    thread::yield_now();
                }
            }
            if let Err(e) = producer.push(i) {
                failed = Some(e);
                break;
            }
        }
        done.store(true, Ordering::Release);
        let r = reader.join().unwrap_or((0, 0, 0));
        if let Some(e) = failed {
            eprintln!("slickq: bench producer failed: {e}");
        }
        r
    });
    let seconds = start.elapsed().as_secs_f64();
    Throughput {
        run,
        records,
        received,
        lost,
        out_of_order,
        seconds,
        records_per_sec: received as f64 / seconds,
        bytes_per_sec: (received * 8) as f64 / seconds,
    }
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Two threads bounce a value over two local queues `pings` times.
fn ping_pong(pings: u64, pb: &ProgressBar) -> Result<Latency> {
    let there = Queue::<u64>::new(1024)?;
    let back = Queue::<u64>::new(1024)?;
    let mut samples = Vec::with_capacity(pings as usize);
    let stop = AtomicBool::new(false);
    let outcome: Result<()> = thread::scope(|s| {
        let (there, back, stop) = (&there, &back, &stop);
        s.spawn(move || {
            let mut cursor = 0;
            while !stop.load(Ordering::Acquire) {
                if let Some(rec) = there.read_timeout(&mut cursor, Duration::from_millis(10)) {
                    let _ = back.push(rec.value());
                }
            }
        });
        let mut cursor = 0;
        let mut result = Ok(());
        for i in 0..pings {
            let t0 = Instant::now();
            if let Err(e) = there.push(i) {
                result = Err(e.into());
                break;
            }
            match back.read_timeout(&mut cursor, Duration::from_secs(5)) {
                Some(rec) if rec.value() == i => samples.push(t0.elapsed().as_nanos() as u64),
                Some(rec) => {
                    result = Err(msg(format!("ping-pong: sent {i}, got {} back", rec.value())));
                    break;
                }
                None => {
                    result = Err(msg(format!("ping-pong: no reply to ping {i} within 5 s")));
                    break;
                }
            }
            if (i + 1) % 256 == 0 {
                pb.inc(256);
            }
        }
        pb.inc(samples.len() as u64 % 256);
        stop.store(true, Ordering::Release);
        result
    });
    outcome?;
    let mean_ns = samples.iter().sum::<u64>() as f64 / samples.len().max(1) as f64;
    samples.sort_unstable();
    Ok(Latency {
        run: "ping-pong",
        round_trips: samples.len() as u64,
        mean_ns,
        p50_ns: percentile(&samples, 0.50),
        p90_ns: percentile(&samples, 0.90),
        p99_ns: percentile(&samples, 0.99),
        max_ns: samples.last().copied().unwrap_or(0),
    })
}

/// The largest `--capacity` (2^24 elements: 128 MiB of data and 256 MiB
/// of control slots per queue).
const MAX_CAPACITY: u64 = 1 << 24;

/// The largest `--pings` (every round trip is kept to sort the latencies).
const MAX_PINGS: u64 = 10_000_000;

/// Runs the three benchmarks and prints the summary.
pub fn run(a: BenchArgs) -> Result<()> {
    let BenchArgs { records, pings, capacity, json } = a;
    if records == 0 || pings == 0 {
        return Err(msg("--records and --pings must be at least 1"));
    }
    // The queues are allocated (and zeroed) up front; an absurd size must be
    // an error here, not an allocation failure that aborts the process.
    if capacity > MAX_CAPACITY {
        return Err(msg(format!(
            "--capacity {capacity} is too large for a benchmark: at most {MAX_CAPACITY} elements ({} MiB of \
             queue memory per queue)",
            (MAX_CAPACITY * 24) >> 20
        )));
    }
    if pings > MAX_PINGS {
        return Err(msg(format!(
            "--pings {pings} is too many: at most {MAX_PINGS} (each is kept to sort the latencies)"
        )));
    }
    let capacity = u32::try_from(capacity).map_err(|_| msg(format!("capacity {capacity} is too large")))?;
    let local_q = Queue::<u64>::new(capacity)?;
    let pb = ProgressBar::with_draw_target(Some(2 * records + pings), ProgressDrawTarget::stderr());
    pb.set_style(
        ProgressStyle::with_template("{prefix:>10} [{bar:40}] {percent:>3}% {elapsed_precise}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );

    pb.set_prefix("spsc-local");
    let local = spsc("spsc-local", &local_q, &local_q, records, &pb);

    pb.set_prefix("spsc-shm");
    let name = format!(
        "slickq_bench_{}_{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos())
    );
    crate::interrupt::remove_on_interrupt(&name);
    let shm = (|| -> Result<Throughput> {
        let p = Queue::<u64>::create_or_open(&name, capacity, &Options::new())?;
        let c = Queue::<u64>::open(&name, &Options::new())?;
        Ok(spsc("spsc-shm", &p, &c, records, &pb))
    })();
    let removed = slick_queue::remove(&name);
    crate::interrupt::removed(&name);
    let shm = shm?;
    if let Err(e) = removed {
        eprintln!("slickq: could not remove the benchmark segment /{name}: {e}");
    }

    pb.set_prefix("ping-pong");
    let latency = ping_pong(pings, &pb)?;
    pb.finish_and_clear();

    let summary = Summary {
        capacity,
        element_size: 8,
        cpus: thread::available_parallelism().map_or(1, |n| n.get()),
        throughput: vec![local, shm],
        latency,
    };
    let stdout = std::io::stdout();
    let mut w = stdout.lock();
    if json {
        write_json(&mut w, &summary)?;
    } else {
        print_summary(&mut w, &summary)?;
    }
    if summary.throughput.iter().any(|t| t.out_of_order > 0 || t.received + t.lost != t.records) {
        return Err(msg("a run delivered records out of order or lost track of some: the queue misbehaved"));
    }
    Ok(())
}

fn print_summary(w: &mut impl Write, s: &Summary) -> Result<()> {
    writeln!(
        w,
        "slickq bench: {}-byte records, capacity {}, {} CPU(s); one producer and one consumer thread",
        s.element_size, s.capacity, s.cpus
    )
    .map_err(out)?;
    writeln!(
        w,
        "{:<12} {:>10} {:>10} {:>8} {:>9} {:>12} {:>14}",
        "RUN", "RECORDS", "RECEIVED", "LOST", "SECONDS", "RECORDS/S", "BYTES/S"
    )
    .map_err(out)?;
    for t in &s.throughput {
        writeln!(
            w,
            "{:<12} {:>10} {:>10} {:>8} {:>9.3} {:>12} {:>14}",
            t.run,
            t.records,
            t.received,
            t.lost,
            t.seconds,
            human_count(t.records_per_sec),
            format!("{}/s", human_bytes(t.bytes_per_sec))
        )
        .map_err(out)?;
    }
    let l = &s.latency;
    writeln!(
        w,
        "{:<12} {} round trips: mean {}, p50 {}, p90 {}, p99 {}, max {}",
        l.run,
        l.round_trips,
        human_nanos(l.mean_ns),
        human_nanos(l.p50_ns as f64),
        human_nanos(l.p90_ns as f64),
        human_nanos(l.p99_ns as f64),
        human_nanos(l.max_ns as f64)
    )
    .map_err(out)
}
