//! `slick-bench`: one measurement per process, as `docs/spec/BENCH_PROTOCOL.md` asks
//! (the driver, `bench/run.py`, runs it 5 times per implementation,
//! alternating implementations, and takes median/min/max).
//!
//! ```text
//! slick-bench list                      the (run, implementation) matrix, as JSON
//! slick-bench run <run> <impl> [--count N] [--smoke]
//!                                       one measurement; prints `RESULT {json}`
//! slick-bench child <run> <impl> <base> <count>
//!                                       (internal) the child process of runs e and f
//! ```
//!
//! Runs: a b c d e f g (see `docs/spec/BENCH_PROTOCOL.md`). Implementations: `slick`
//! (default options), `slick-nolast` (read_last off), `slick-excl` (the
//! exclusive producer), `cpp` (the C++ original, only when bench/run built
//! `bench/cpp/driver.cpp` against user-supplied headers), `crossbeam`
//! (crossbeam_queue::ArrayQueue), `disruptor`, `mpsc` (std::sync::mpsc
//! sync_channel) and `iceoryx2` (runs e and f, with the `iceoryx2` feature).

use serde::Serialize;
use slick_queue_bench::common::*;
use slick_queue_bench::inproc::{self, Shape};
use slick_queue_bench::xproc;

/// Protocol counts.
fn default_count(run: &str) -> u64 {
    match run {
        "a" | "b" | "c" | "e" => 20_000_000,
        "d" => 10_000_000, // per producer
        "f" => 1_000_000,
        "g" => 100_000_000,
        "z32" | "z1024" => 2_000_000,
        "zlat" => 20_000,
        _ => 0,
    }
}

/// Smoke counts: a quick check that every cell runs and checks out.
fn smoke_count(run: &str) -> u64 {
    match run {
        "f" => 2_000,
        "g" => 100_000,
        "z32" | "z1024" => 20_000,
        "zlat" => 500,
        _ => 200_000,
    }
}

pub const RUNS: [&str; 10] = ["a", "b", "c", "d", "e", "f", "g", "z32", "z1024", "zlat"];
pub const IMPLS: [&str; 10] =
    ["slick", "slick-nolast", "slick-excl", "crossbeam", "disruptor", "mpsc", "iceoryx2", "cpp", "bridge", "zenoh"];

/// The bridge runs (z...) compare the bridge with raw Zenoh only; the other
/// runs never involve those two: `list` leaves such pairs out.
fn relevant(run: &str, imp: &str) -> bool {
    run.starts_with('z') == matches!(imp, "bridge" | "zenoh")
}

/// The C++ original's driver (bench/cpp/driver.cpp), when bench/run built it
/// against headers supplied through SLICK_BENCH_CPP_INCLUDE.
fn cpp_bin() -> Option<std::path::PathBuf> {
    let p = std::path::PathBuf::from(std::env::var_os("SLICK_BENCH_CPP_BIN")?);
    p.is_file().then_some(p)
}

/// `Ok(())` if `imp` can run `run`, else why not (shown in the tables).
fn support(run: &str, imp: &str) -> Result<(), &'static str> {
    match (imp, run) {
        ("bridge" | "zenoh", "z32" | "z1024" | "zlat") => zenoh_support(),
        (_, "z32" | "z1024" | "zlat") | ("bridge" | "zenoh", _) => Err("bridge runs only"),
        ("slick" | "slick-nolast", _) => Ok(()),
        ("slick-excl", "d") => Err("one producer only"),
        ("slick-excl", _) => Ok(()),
        ("cpp", "a" | "c" | "e" | "f" | "g") => {
            if cpp_bin().is_some() {
                Ok(())
            } else {
                Err("C++ original not supplied (set SLICK_BENCH_CPP_INCLUDE)")
            }
        }
        ("cpp", _) => Err("not driven for the C++ original"),
        ("crossbeam" | "mpsc", "c") => Err("no batch API"),
        ("crossbeam" | "disruptor" | "mpsc", "e" | "f") => Err("in-process only"),
        ("crossbeam" | "disruptor" | "mpsc", _) => Ok(()),
        ("iceoryx2", "e" | "f") => {
            if cfg!(feature = "iceoryx2") {
                Ok(())
            } else {
                Err("built without the iceoryx2 feature")
            }
        }
        ("iceoryx2", _) => Err("runs e and f only (shared memory)"),
        _ => Err("unknown implementation"),
    }
}

#[cfg(feature = "zenoh")]
fn zenoh_support() -> Result<(), &'static str> {
    slick_queue_bench::bridge::available()
}

#[cfg(not(feature = "zenoh"))]
fn zenoh_support() -> Result<(), &'static str> {
    Err("built without the zenoh feature")
}

#[derive(Serialize)]
struct Cell {
    run: &'static str,
    #[serde(rename = "impl")]
    imp: &'static str,
    supported: bool,
    reason: Option<&'static str>,
    count: u64,
    smoke_count: u64,
}

fn note(run: &str, imp: &str) -> String {
    let opts = match imp {
        "slick" => "default options (read_last on)",
        "slick-nolast" => "read_last off",
        "slick-excl" => "exclusive producer (read_last on)",
        "crossbeam" => "ArrayQueue (bounded MPMC)",
        "disruptor" => "BusySpin, EventPoller consumer",
        "mpsc" => "sync_channel, try_recv",
        "iceoryx2" => "ipc publish/subscribe, loan+send",
        "bridge" => "slick-queue-zenoh Sender/Receiver, shm queues at both ends, Block",
        "zenoh" => "raw Zenoh put/subscriber callback, Block",
        _ => "",
    };
    let shape = match run {
        "a" => "SPSC, u64, 1 per publish",
        "b" => "SPSC, 64-byte element",
        "c" => "SPSC, u64, batches of 16",
        "d" => "2 producers + 1 consumer, unpinned",
        "e" => "SPSC across processes, u64",
        "f" => "ping-pong across processes, queues of 1024",
        "g" => "one thread: reserve+write+publish+read",
        "z32" => "32-byte records over Zenoh, TCP on 127.0.0.1",
        "z1024" => "1024-byte records over Zenoh, TCP on 127.0.0.1",
        "zlat" => "one-way latency, 32-byte records paced every 200 us, TCP on 127.0.0.1",
        _ => "",
    };
    format!("{shape}; {opts}")
}

fn usage() -> ! {
    eprintln!("usage: slick-bench list | run <run> <impl> [--count N] [--smoke] | child <run> <impl> <base> <count>");
    std::process::exit(64)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("list") => {
            let cells: Vec<Cell> = RUNS
                .iter()
                .flat_map(|&run| {
                    IMPLS.iter().filter(move |&&imp| relevant(run, imp)).map(move |&imp| {
                        let s = support(run, imp);
                        Cell {
                            run,
                            imp,
                            supported: s.is_ok(),
                            reason: s.err(),
                            count: default_count(run),
                            smoke_count: smoke_count(run),
                        }
                    })
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&cells).or_fail("json"));
        }
        Some("run") if args.len() >= 3 => {
            let (run, imp) = (args[1].as_str(), args[2].as_str());
            if let Err(why) = support(run, imp) {
                fail(&format!("{imp} cannot do run {run}: {why}"));
            }
            let mut count = default_count(run);
            let mut rest = args[3..].iter();
            while let Some(a) = rest.next() {
                match a.as_str() {
                    "--smoke" => count = smoke_count(run),
                    "--count" => count = rest.next().and_then(|c| c.parse().ok()).unwrap_or_else(|| usage()),
                    _ => usage(),
                }
            }
            if imp == "cpp" {
                run_cpp(run, count);
            } else {
                measure(run, imp, count).print();
            }
        }
        Some("child") if args.len() == 5 => {
            let names = xproc::Names { base: args[3].clone() };
            let count: u64 = args[4].parse().unwrap_or_else(|_| usage());
            match (args[1].as_str(), args[2].as_str()) {
                ("e", "slick" | "slick-nolast" | "slick-excl") => xproc::e_slick_child(&args[2], &names, count),
                ("f", "slick" | "slick-nolast" | "slick-excl") => xproc::f_slick_child(&args[2], &names, count),
                #[cfg(feature = "iceoryx2")]
                ("e", "iceoryx2") => xproc::ice::e_child(&names, count),
                #[cfg(feature = "iceoryx2")]
                ("f", "iceoryx2") => xproc::ice::f_child(&names, count),
                _ => usage(),
            }
        }
        _ => usage(),
    }
}

/// One measurement of the C++ original: its driver prints the `RESULT` line.
fn run_cpp(run: &str, count: u64) {
    let bin = cpp_bin().unwrap_or_else(|| fail("SLICK_BENCH_CPP_BIN is not set"));
    let out =
        std::process::Command::new(bin).args(["run", run, &count.to_string()]).output().or_fail("run the C++ driver");
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || !stdout.contains("RESULT ") {
        fail(&format!("C++ driver: {} {}", out.status, String::from_utf8_lossy(&out.stderr).trim()));
    }
    print!("{stdout}");
}

fn measure(run: &str, imp: &str, count: u64) -> Outcome {
    let note = note(run, imp);
    #[cfg(feature = "zenoh")]
    if run.starts_with('z') {
        return measure_bridge(run, imp, count, note);
    }
    let opts = xproc::slick_options(imp);
    let spsc = |per_producer, batch| Shape { producers: 1, per_producer, batch, pinned: true };
    let shape = match run {
        "a" | "b" => spsc(count, 1),
        "c" => spsc(count - count % 16, 16),
        "d" => Shape { producers: 2, per_producer: count, batch: 1, pinned: false },
        _ => spsc(count, 1),
    };
    let items = shape.total();
    let elapsed = match (run, imp) {
        ("a" | "c" | "d", "slick" | "slick-nolast" | "slick-excl") => inproc::slick::<u64>(shape, &opts),
        ("b", "slick" | "slick-nolast" | "slick-excl") => inproc::slick::<[u64; 8]>(shape, &opts),
        ("a" | "d", "crossbeam") => inproc::crossbeam::<u64>(shape),
        ("b", "crossbeam") => inproc::crossbeam::<[u64; 8]>(shape),
        ("a" | "c" | "d", "disruptor") => inproc::disruptor::<u64>(shape),
        ("b", "disruptor") => inproc::disruptor::<[u64; 8]>(shape),
        ("a" | "d", "mpsc") => inproc::mpsc::<u64>(shape),
        ("b", "mpsc") => inproc::mpsc::<[u64; 8]>(shape),
        ("e", "slick" | "slick-nolast" | "slick-excl") => xproc::e_slick(imp, count),
        #[cfg(feature = "iceoryx2")]
        ("e", "iceoryx2") => xproc::ice::e(count),
        ("f", _) => {
            let h = match imp {
                #[cfg(feature = "iceoryx2")]
                "iceoryx2" => xproc::ice::f(count),
                _ => xproc::f_slick(imp, count),
            };
            return Outcome {
                run: run.into(),
                imp: imp.into(),
                count,
                secs: 0.0,
                latency_ns: Some(latency(&h)),
                note,
                ..Default::default()
            };
        }
        ("g", _) => {
            let dt = match imp {
                "crossbeam" => inproc::step_crossbeam(count),
                "mpsc" => inproc::step_mpsc(count),
                "disruptor" => inproc::step_disruptor(count),
                _ => inproc::step_slick(count, &opts),
            };
            return Outcome {
                run: run.into(),
                imp: imp.into(),
                count,
                secs: dt.as_secs_f64(),
                ns_per_step: Some(dt.as_nanos() as f64 / count as f64),
                note,
                ..Default::default()
            };
        }
        _ => fail(&format!("no measurement for run {run} with {imp}")),
    };
    Outcome::throughput(run, imp, items, elapsed, &note)
}

#[cfg(feature = "zenoh")]
fn measure_bridge(run: &str, imp: &str, count: u64, note: String) -> Outcome {
    use slick_queue_bench::bridge;
    bridge::ensure_private_netns();
    if run == "zlat" {
        let h = if imp == "bridge" { bridge::bridge_latency(count) } else { bridge::raw_latency(count) };
        return Outcome {
            run: run.into(),
            imp: imp.into(),
            count,
            secs: 0.0,
            latency_ns: Some(latency(&h)),
            note,
            ..Default::default()
        };
    }
    let size = if run == "z32" { 32 } else { 1024 };
    let x = if imp == "bridge" { bridge::bridge_xput(count, size) } else { bridge::raw_xput(count, size) };
    let note = format!("{note}; received {} of {count}, {} lost", x.received, x.lost);
    Outcome::throughput(run, imp, x.received, x.elapsed, &note)
}
