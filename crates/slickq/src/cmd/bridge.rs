//! `slickq bridge send|recv`: carry a queue's records to other hosts over
//! Zenoh (the `slick-queue-zenoh` crate).

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use slick_queue::{ByteQueue, Options};
use slick_queue_zenoh::{IdleWait, Network, Receiver, ReceiverStats, Sender, SenderOptions, SenderStats};

use crate::fail::{msg, Result};
use crate::open::{oldest_index, open_queue};
use crate::units::{human_bytes, human_count, parse_duration, parse_size};

/// The long help of `slickq bridge` (`slickq bridge --help`).
pub const ABOUT: &str = "\
Carry a queue's records to other hosts over Zenoh.

`bridge send` reads every record of a local queue with its own cursor (it
never slows the queue's producers) and publishes the records on a Zenoh key
expression; `bridge recv` subscribes to the key expression and writes each
record, whole, into a local queue that local consumers (Rust, Python, C++)
read like any other. Several small records travel in one message when the
sender is behind; a record is never split or reordered.

Loss is reported end to end, in elements: what the sender's cursor lost on
its ring (lapped by the producers) plus what never arrived (dropped by Zenoh
under congestion, or sent while the receiver was away). By default messages
are dropped rather than queued when the network or the receiver cannot keep
up (--reliable blocks the sender instead; the producers never wait either
way). The receiver refuses records of another element size than its queue's:
it stops with an error and writes nothing.

Endpoints are Zenoh's, e.g. tcp/127.0.0.1:7447 or tcp/0.0.0.0:7447. With
explicit --connect/--listen endpoints the topology is explicit: multicast
scouting is off unless --scout is given. With none, Zenoh's defaults apply
(peer mode, multicast scouting). --config FILE loads a Zenoh configuration
(JSON5) for everything else (routers, client mode, TLS, ...).

Status goes to stderr every --interval (records/s, bytes/s, totals, loss),
or as one JSON object per line on stdout with --json, ending with a final
line (\"final\": true) when the bridge stops on Ctrl-C or SIGTERM.";

#[derive(Args, Debug)]
pub struct BridgeArgs {
    #[command(subcommand)]
    cmd: BridgeCmd,
}

#[derive(Subcommand, Debug)]
enum BridgeCmd {
    /// Publish every record of a local queue on a Zenoh key expression.
    Send(SendArgs),
    /// Write every record received on a Zenoh key expression into a local queue.
    Recv(RecvArgs),
}

#[derive(Args, Debug)]
struct NetArgs {
    /// A Zenoh endpoint to connect to (repeatable), e.g. tcp/10.0.0.5:7447.
    #[arg(long, value_name = "ENDPOINT")]
    connect: Vec<String>,
    /// A Zenoh endpoint to listen on (repeatable), e.g. tcp/0.0.0.0:7447.
    #[arg(long, value_name = "ENDPOINT")]
    listen: Vec<String>,
    /// Keep Zenoh's multicast scouting on even with explicit endpoints.
    #[arg(long)]
    scout: bool,
    /// A Zenoh configuration file (JSON5); --connect/--listen override its endpoints.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Time between two status reports.
    #[arg(long, value_parser = parse_duration, default_value = "1s", value_name = "DURATION")]
    interval: Duration,
    /// Print status as JSON lines on stdout instead of text on stderr.
    #[arg(long)]
    json: bool,
}

impl NetArgs {
    fn network(&self) -> Network {
        Network {
            connect: self.connect.clone(),
            listen: self.listen.clone(),
            scout: self.scout,
            config_file: self.config.clone(),
        }
    }
}

#[derive(Args, Debug)]
struct SendArgs {
    /// The local queue to read.
    queue: String,
    /// The Zenoh key expression to publish on, e.g. feeds/orders.
    #[arg(long, value_name = "KEYEXPR")]
    key: String,
    /// Start with the oldest record still in the ring instead of the next one published.
    #[arg(long)]
    from_start: bool,
    /// Block (Zenoh congestion control "block") instead of dropping messages under congestion.
    #[arg(long)]
    reliable: bool,
    /// Most record bytes per message when several records are waiting.
    #[arg(long, default_value = "32768", value_parser = parse_size, value_name = "BYTES")]
    max_batch: u64,
    /// Poll the queue continuously when idle (lowest latency, keeps a core busy).
    #[arg(long)]
    busy_poll: bool,
    #[command(flatten)]
    net: NetArgs,
}

#[derive(Args, Debug)]
struct RecvArgs {
    /// The Zenoh key expression to subscribe to (wildcards allowed, e.g. feeds/**).
    #[arg(value_name = "KEYEXPR")]
    key: String,
    /// The local queue to write into.
    queue: String,
    /// Create the queue with this capacity (elements, a power of two) if it does not exist.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, requires = "element_size")]
    create: Option<u64>,
    /// Element size in bytes when creating (it must match the sender's queue).
    #[arg(long, value_name = "BYTES", value_parser = parse_size, requires = "create")]
    element_size: Option<u64>,
    #[command(flatten)]
    net: NetArgs,
}

/// Runs `bridge send` or `bridge recv`.
pub fn run(a: BridgeArgs) -> Result<()> {
    match a.cmd {
        BridgeCmd::Send(s) => send(s),
        BridgeCmd::Recv(r) => recv(r),
    }
}

/// Makes Ctrl-C, SIGTERM and SIGHUP end the bridge cleanly (a final status
/// line, exit status 0) instead of exiting at once: the bridge polls
/// [`crate::interrupt::stopped`]. The handler is the one `main` installed;
/// a process has only one.
fn stop_on_interrupt() {
    crate::interrupt::graceful();
}

fn to_u32(what: &str, v: u64) -> Result<u32> {
    u32::try_from(v).map_err(|_| msg(format!("{what} {v} is too large (at most {})", u32::MAX)))
}

/// Rates between two reports.
struct Rate {
    at: Instant,
    start: Instant,
    records: u64,
    bytes: u64,
}

impl Rate {
    fn new() -> Rate {
        let now = Instant::now();
        Rate { at: now, start: now, records: 0, bytes: 0 }
    }

    /// (records/s, bytes/s, seconds since start) since the last call.
    fn tick(&mut self, records: u64, bytes: u64) -> (f64, f64, f64) {
        let now = Instant::now();
        let dt = (now - self.at).as_secs_f64().max(1e-9);
        let r =
            ((records - self.records) as f64 / dt, (bytes - self.bytes) as f64 / dt, (now - self.start).as_secs_f64());
        self.at = now;
        self.records = records;
        self.bytes = bytes;
        r
    }
}

fn emit(json: bool, line: serde_json::Value, text: String) {
    if json {
        let mut out = std::io::stdout().lock();
        // A closed stdout must not stop the bridge: status is best effort.
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    } else {
        eprintln!("{text}");
    }
}

fn send_status(json: bool, s: &SenderStats, rate: &mut Rate, cursor: u64, last: bool) {
    let (rps, bps, t) = rate.tick(s.records, s.bytes);
    emit(
        json,
        serde_json::json!({
            "side": "send", "elapsed_s": t, "records_per_s": rps, "bytes_per_s": bps,
            "records": s.records, "elements": s.elements, "bytes": s.bytes, "messages": s.messages,
            "lost": s.lost, "cursor": cursor, "matched": s.matched, "final": last,
        }),
        format!(
            "slickq bridge send: {} records/s {}/s | total {} records {} in {} message{} | lost {} elements | subscribers: {}{}",
            human_count(rps),
            human_bytes(bps),
            s.records,
            human_bytes(s.bytes as f64),
            s.messages,
            if s.messages == 1 { "" } else { "s" },
            s.lost,
            if s.matched { "yes" } else { "none" },
            if last { " (stopped)" } else { "" }
        ),
    );
}

fn recv_status(json: bool, s: &ReceiverStats, rate: &mut Rate, last: bool) {
    let (rps, bps, t) = rate.tick(s.records, s.bytes);
    emit(
        json,
        serde_json::json!({
            "side": "recv", "elapsed_s": t, "records_per_s": rps, "bytes_per_s": bps,
            "records": s.records, "elements": s.elements, "bytes": s.bytes, "messages": s.messages,
            "lost": s.lost(), "lost_sender": s.lost_sender, "lost_network": s.lost_network,
            "lost_network_records": s.lost_network_records, "rejected_records": s.rejected_records,
            "malformed": s.malformed, "stale": s.stale, "senders": s.senders, "final": last,
        }),
        format!(
            "slickq bridge recv: {} records/s {}/s | total {} records {} | lost {} elements (sender {}, network {}){}{}",
            human_count(rps),
            human_bytes(bps),
            s.records,
            human_bytes(s.bytes as f64),
            s.lost(),
            s.lost_sender,
            s.lost_network,
            if s.rejected_records + s.malformed > 0 {
                format!(" | rejected {} records, {} malformed messages", s.rejected_records, s.malformed)
            } else {
                String::new()
            },
            if last { " (stopped)" } else { "" }
        ),
    );
}

fn send(a: SendArgs) -> Result<()> {
    stop_on_interrupt();
    let q = open_queue(&a.queue)?;
    let session = a.net.network().open().map_err(|e| msg(format!("cannot open the Zenoh session: {e}")))?;
    let mut opts = SenderOptions::new(a.key.clone());
    // Like `consume --from-start`: the oldest record still in the ring, so
    // what was overwritten before the bridge started is not reported as its loss.
    opts.start_index = a.from_start.then(|| oldest_index(&q, &a.queue));
    opts.reliable = a.reliable;
    opts.max_batch_bytes = usize::try_from(a.max_batch).map_err(|_| msg("--max-batch is too large"))?;
    opts.idle = if a.busy_poll { IdleWait::BusyPoll } else { IdleWait::Backoff };
    let mut sender = Sender::new(&session, q, &opts).map_err(|e| msg(format!("cannot publish on {:?}: {e}", a.key)))?;
    if !a.net.json {
        eprintln!(
            "slickq bridge send: {} ({} elements of {} bytes) -> {:?}, from index {}",
            a.queue,
            sender.queue().capacity(),
            sender.queue().element_size(),
            a.key,
            sender.cursor()
        );
    }
    let mut rate = Rate::new();
    let mut next = Instant::now() + a.net.interval;
    let slice = a.net.interval.min(Duration::from_millis(100));
    let mut result = Ok(());
    while !crate::interrupt::stopped() {
        if let Err(e) = sender.poll(slice) {
            result = Err(msg(format!("cannot publish: {e}")));
            break;
        }
        if Instant::now() >= next {
            // Best effort: a failed query leaves the last known state.
            let _ = sender.refresh_matching();
            send_status(a.net.json, &sender.stats(), &mut rate, sender.cursor(), false);
            next += a.net.interval;
            if next < Instant::now() {
                next = Instant::now() + a.net.interval;
            }
        }
    }
    let _ = sender.refresh_matching();
    send_status(a.net.json, &sender.stats(), &mut rate, sender.cursor(), true);
    drop(sender);
    // Closing says goodbye to the peers; failing to is not worth an error.
    let _ = slick_queue_zenoh::zenoh::Wait::wait(session.close());
    result
}

fn recv(a: RecvArgs) -> Result<()> {
    stop_on_interrupt();
    let q = match a.create {
        Some(size) => {
            let es = a.element_size.ok_or_else(|| msg("--create needs --element-size"))?;
            ByteQueue::create_or_open(&a.queue, to_u32("capacity", size)?, to_u32("element size", es)?, &Options::new())
                .map_err(|e| msg(format!("cannot create or open queue {:?}: {e}", a.queue)))?
        }
        None => open_queue(&a.queue)?,
    };
    let (capacity, element_size) = (q.capacity(), q.element_size());
    let session = a.net.network().open().map_err(|e| msg(format!("cannot open the Zenoh session: {e}")))?;
    let receiver =
        Receiver::new(&session, &a.key, q).map_err(|e| msg(format!("cannot subscribe to {:?}: {e}", a.key)))?;
    if !a.net.json {
        eprintln!("slickq bridge recv: {:?} -> {} ({capacity} elements of {element_size} bytes)", a.key, a.queue);
    }
    let mut rate = Rate::new();
    let mut next = Instant::now() + a.net.interval;
    let mut warned_malformed = 0;
    let mut result = Ok(());
    while !crate::interrupt::stopped() {
        std::thread::sleep(Duration::from_millis(20));
        if let Some(e) = receiver.error() {
            result = Err(msg(format!("bridge recv {:?} -> {}: {e}", a.key, a.queue)));
            break;
        }
        if Instant::now() >= next {
            let s = receiver.stats();
            if s.malformed > warned_malformed && !a.net.json {
                if let Some(e) = receiver.last_malformed() {
                    eprintln!("slickq bridge recv: ignored {} message(s): {e}", s.malformed - warned_malformed);
                }
                warned_malformed = s.malformed;
            }
            recv_status(a.net.json, &s, &mut rate, false);
            next += a.net.interval;
            if next < Instant::now() {
                next = Instant::now() + a.net.interval;
            }
        }
    }
    let stats = receiver.close().map_err(|e| msg(format!("cannot unsubscribe: {e}")))?;
    recv_status(a.net.json, &stats, &mut rate, true);
    let _ = slick_queue_zenoh::zenoh::Wait::wait(session.close());
    result
}
