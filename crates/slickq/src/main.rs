//! `slickq`: a command-line tool for the slick-queue shared-memory queues on
//! a machine. See `docs/CLI.md` in the repository, or `slickq --help`.

mod cmd;
mod fail;
mod interrupt;
mod open;
mod segments;
mod units;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::fail::Fail;
use crate::units::{parse_duration, parse_size};

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
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List the queues in /dev/shm, flagging half-initialised and stale ones.
    #[command(long_about = LS_ABOUT)]
    Ls(LsArgs),
    /// Decode one queue's header and control slots without joining it.
    #[command(long_about = INSPECT_ABOUT)]
    Inspect(InspectArgs),
    /// Print a queue's records as they are published (a broadcast reader).
    #[command(long_about = TAIL_ABOUT)]
    Tail(TailArgs),
    /// Measure a queue's publish rate and, given a reader's cursor, its lag.
    #[command(long_about = STAT_ABOUT)]
    Stat(StatArgs),
    /// Publish stdin (lines or fixed-size records) into a queue.
    #[command(long_about = PRODUCE_ABOUT)]
    Produce(ProduceArgs),
    /// Write a queue's records to stdout, for shell pipelines.
    #[command(long_about = CONSUME_ABOUT)]
    Consume(ConsumeArgs),
    /// Remove queues by name, or every stale one with --stale.
    #[command(long_about = RM_ABOUT)]
    Rm(RmArgs),
    /// Quick throughput and latency runs of the library on this machine.
    #[command(long_about = BENCH_ABOUT)]
    Bench(BenchArgs),
    /// Carry a queue's records to other hosts over Zenoh (send / recv).
    #[cfg(feature = "bridge")]
    #[command(long_about = cmd::bridge::BRIDGE_ABOUT)]
    Bridge(cmd::bridge::BridgeArgs),
}

const LS_ABOUT: &str = "\
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

const INSPECT_ABOUT: &str = "\
Decode one queue's header and control slots without joining it.

The object is opened read-only and read with pread: inspecting never maps,
joins or modifies the queue, and works on half-initialised or truncated
segments too. Shows the raw and decoded header (marker, features,
init_state, geometry, write index, last published index) and the first and
last few control slots.";

const TAIL_ABOUT: &str = "\
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

const STAT_ABOUT: &str = "\
Measure a queue's publish rate and, given a reader's cursor, its lag.

stat joins the queue as a broadcast reader (it never writes) and counts the
records published in each interval, printing records/s, bytes/s (whole
elements) and elements/s (the advance of the write index). With --cursor
NAME (a work-stealing cursor object, 8 bytes in /dev/shm, read without
mapping it) or --cursor-value N it also prints that reader's lag: how many
elements it is behind the write index. A lag above the capacity means the
reader is being lapped and loses records.";

const PRODUCE_ABOUT: &str = "\
Publish stdin into a queue.

By default each line of stdin (without its line ending) becomes one record,
spanning as many elements as it needs, the last one padded with zero bytes.
With --record-size B, stdin is cut into B-byte records instead (binary
input). The queue must exist unless --create SIZE is given, which creates it
with SIZE elements of --element-size bytes when it does not exist yet.

The queue is lossy: producers never wait for consumers, so a consumer that
is more than a ring behind loses records.";

const CONSUME_ABOUT: &str = "\
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

const RM_ABOUT: &str = "\
Remove queues from /dev/shm.

`slickq rm NAME...` unlinks the named queues, healthy or not. A named object
without the layout marker (not a queue) is refused unless --force is given.
Processes that have a queue mapped keep using their mapping; the next
creator of the name gets a fresh segment.

`slickq rm --stale` removes every stale queue (see `slickq ls --help`): a
queue whose init_state is stuck below ready (0 or 2), or whose object is
shorter than its geometry needs, and that was last modified more than the
grace period ago, or a 0-byte object that old. An object that some process
still maps or holds open (a paused creator) is kept and reported with the
processes' pids and commands. Objects without the layout marker, healthy
queues and queues made by newer peers are never removed this way.";

const BENCH_ABOUT: &str = "\
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
struct LsArgs {
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

#[derive(Args, Debug)]
struct InspectArgs {
    /// The queue's name (with or without the leading '/').
    name: String,
    /// How many control slots to show from each end of the control array.
    #[arg(long, default_value_t = 4, value_name = "N")]
    slots: u64,
    /// Print a JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// How tail shows a record's bytes.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Hexadecimal bytes.
    Hex,
    /// Little-endian u64 words (a last partial word is zero-extended).
    U64,
    /// UTF-8 text (invalid sequences replaced), trailing zero bytes removed.
    Utf8,
    /// The record's bytes exactly, with no index line or separator.
    Raw,
}

#[derive(Args, Debug)]
struct TailArgs {
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

#[derive(Args, Debug)]
struct StatArgs {
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

#[derive(Args, Debug)]
struct ProduceArgs {
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

#[derive(Args, Debug)]
struct ConsumeArgs {
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

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["names", "stale"])))]
struct RmArgs {
    /// The queues to remove.
    names: Vec<String>,
    /// Remove every stale queue instead of named ones.
    #[arg(long, conflicts_with = "names")]
    stale: bool,
    /// With --stale: minimum age of a stale queue (e.g. 30s, 5m).
    #[arg(long, value_parser = parse_duration, default_value = "10s", value_name = "DURATION", requires = "stale")]
    grace: Duration,
    /// With --stale: only consider objects whose name starts with this prefix.
    #[arg(long, value_name = "PREFIX", requires = "stale")]
    prefix: Option<String>,
    /// Say what would be removed without removing anything.
    #[arg(long)]
    dry_run: bool,
    /// Also remove named objects that carry no layout marker (not queues).
    #[arg(long, conflicts_with = "stale")]
    force: bool,
}

#[derive(Args, Debug)]
struct BenchArgs {
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    interrupt::install();
    open::ALLOW_FOREIGN_OWNER.store(cli.allow_foreign_owner, std::sync::atomic::Ordering::Relaxed);
    let result = match cli.command {
        Command::Ls(a) => cmd::ls::run(a.all, a.grace, a.json),
        Command::Inspect(a) => cmd::inspect::run(&a.name, a.slots, a.json),
        Command::Tail(a) => cmd::tail::run(cmd::tail::TailOpts {
            name: a.name,
            from_start: a.from_start,
            follow: a.follow,
            format: a.format,
            count: a.count,
            idle_timeout: a.idle_timeout,
            max_bytes: a.max_bytes,
            json: a.json,
        }),
        Command::Stat(a) => cmd::stat::run(cmd::stat::StatOpts {
            name: a.name,
            interval: a.interval,
            count: a.count,
            cursor: a.cursor,
            cursor_value: a.cursor_value,
            json: a.json,
        }),
        Command::Produce(a) => cmd::produce::run(cmd::produce::ProduceOpts {
            name: a.name,
            create: a.create,
            element_size: a.element_size,
            items_per_slot: a.items_per_slot,
            mode: a.mode,
            record_size: a.record_size,
            input: a.input,
        }),
        Command::Consume(a) => cmd::consume::run(cmd::consume::ConsumeOpts {
            name: a.name,
            from_start: a.from_start,
            count: a.count,
            idle_timeout: a.idle_timeout,
            raw: a.raw,
            shared_cursor: a.shared_cursor,
            verbose: a.verbose,
        }),
        Command::Rm(a) => {
            if a.stale {
                cmd::rm::run_stale(a.grace, a.prefix.as_deref(), a.dry_run)
            } else {
                cmd::rm::run_named(&a.names, a.force, a.dry_run)
            }
        }
        Command::Bench(a) => cmd::bench::run(a.records, a.pings, a.capacity, a.json),
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
