//! `slickq`: a command-line tool for the slick-queue shared-memory queues on
//! a machine. See `docs/CLI.md` in the repository, or `slickq --help`.

mod cmd;
mod fail;
mod interrupt;
mod open;
mod output;
mod segments;
mod units;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::cmd::{bench, consume, inspect, ls, produce, rm, stat, tail};
use crate::fail::Fail;

/// Inspect, follow, feed and drain the slick-queue shared-memory queues on
/// this machine.
///
/// Queues live in /dev/shm and are recognised by the layout marker in their
/// header ("SLQ" + a feature digit at offset 24), not by their name. A queue
/// NAME is the shared-memory object name, with or without its leading '/'
/// (`orders` and `/orders` both mean /dev/shm/orders).
///
/// The read-only commands (ls, inspect, tail, stat) never modify a queue;
/// ls and inspect do not even map it. Every read-only command takes
/// --json for scripts. Errors go to stderr with a non-zero exit status:
/// 1 for a failed command, 2 for a usage error.
#[derive(Parser, Debug)]
#[command(name = "slickq", version, propagate_version = true, max_term_width = 100)]
struct Cli {
    /// Attach to queues and cursors owned by another user (refused by
    /// default: anyone can create a name in /dev/shm first).
    #[arg(long, global = true)]
    allow_foreign_owner: bool,
    /// How often a waiting command (tail --follow, consume, stat, bridge
    /// send) looks at an idle queue by itself (default 1ms): the most a
    /// record of a producer that does not ring the doorbell (the C++ and
    /// original Python peers) waits to be seen. Our producers wake waiters
    /// at once whatever the interval; a longer one costs less CPU when idle.
    #[arg(long, global = true, value_parser = units::parse_poll_interval, value_name = "DURATION")]
    poll_interval: Option<std::time::Duration>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List the queues in /dev/shm, flagging half-initialised and stale ones.
    #[command(long_about = ls::ABOUT)]
    Ls(ls::LsArgs),
    /// Decode one queue's header and control slots without joining it.
    #[command(long_about = inspect::ABOUT)]
    Inspect(inspect::InspectArgs),
    /// Print a queue's records as they are published (a broadcast reader).
    #[command(long_about = tail::ABOUT)]
    Tail(tail::TailArgs),
    /// Measure a queue's publish rate and, given a reader's cursor, its lag.
    #[command(long_about = stat::ABOUT)]
    Stat(stat::StatArgs),
    /// Publish stdin (lines or fixed-size records) into a queue.
    #[command(long_about = produce::ABOUT)]
    Produce(produce::ProduceArgs),
    /// Write a queue's records to stdout, for shell pipelines.
    #[command(long_about = consume::ABOUT)]
    Consume(consume::ConsumeArgs),
    /// Remove queues by name, or every stale one with --stale.
    #[command(long_about = rm::ABOUT)]
    Rm(rm::RmArgs),
    /// Quick throughput and latency runs of the library on this machine.
    #[command(long_about = bench::ABOUT)]
    Bench(bench::BenchArgs),
    /// Carry a queue's records to other hosts over Zenoh (send / recv).
    #[cfg(feature = "bridge")]
    #[command(long_about = cmd::bridge::ABOUT)]
    Bridge(cmd::bridge::BridgeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    interrupt::install();
    open::ALLOW_FOREIGN_OWNER.store(cli.allow_foreign_owner, std::sync::atomic::Ordering::Relaxed);
    if let Some(interval) = cli.poll_interval {
        let nanos = u64::try_from(interval.as_nanos()).unwrap_or(u64::MAX);
        open::POLL_INTERVAL_NS.store(nanos, std::sync::atomic::Ordering::Relaxed);
    }
    let result = match cli.command {
        Command::Ls(a) => ls::run(a),
        Command::Inspect(a) => inspect::run(a),
        Command::Tail(a) => tail::run(a),
        Command::Stat(a) => stat::run(a),
        Command::Produce(a) => produce::run(a),
        Command::Consume(a) => consume::run(a),
        Command::Rm(a) => rm::run(a),
        Command::Bench(a) => bench::run(a),
        #[cfg(feature = "bridge")]
        Command::Bridge(a) => cmd::bridge::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail::BrokenPipe) => ExitCode::SUCCESS,
        Err(Fail::Interrupted) => ExitCode::from(130),
        Err(e) => {
            eprintln!("slickq: error: {e}");
            ExitCode::FAILURE
        }
    }
}
