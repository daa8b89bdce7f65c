//! Real child processes over real shared memory.
//!
//! This test binary is also its own child: run with `SQ_ROLE=<role>` it plays
//! that role (see `run_role`) instead of running tests, so the tests need no
//! helper binaries. It uses a libtest-compatible harness (libtest-mimic), so
//! `cargo test` and `cargo nextest` run it like any other test binary.

// The dead-process and permission tests SIGKILL children at failpoints, read
// /dev/shm, and switch uids in a child (setresuid): Linux-only. The tests in
// this file run on Windows too (under Wine here), two or more Windows
// processes on one named mapping.
#[cfg(target_os = "linux")]
mod hardening;
#[cfg(target_os = "linux")]
mod host;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
#[cfg(target_os = "linux")]
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use libtest_mimic::{Arguments, Failed, Trial};
use slick_queue::{ByteQueue, Error, Options, SharedCursor};
use testkit::ShmGuard;

fn main() {
    if cfg!(miri) {
        // Every test here maps shared memory and most spawn processes:
        // system calls Miri does not emulate. The Miri stage runs this
        // binary only for completeness (it runs whole crates).
        println!("processes: skipped under Miri: shared memory and child processes are not emulated");
        return;
    }
    if let Ok(role) = std::env::var("SQ_ROLE") {
        let args: Vec<String> = std::env::args().skip(1).collect();
        #[cfg(target_os = "linux")]
        if let Some(code) = host::run_role(&role, &args) {
            std::process::exit(code);
        }
        #[cfg(target_os = "linux")]
        if let Some(code) = hardening::run_role(&role, &args) {
            std::process::exit(code);
        }
        std::process::exit(run_role(&role, &args));
    }
    let args = Arguments::from_args();
    let tests: Vec<Trial> = vec![
        Trial::test("race_create_or_open_one_creator", race_create_or_open_one_creator),
        Trial::test("race_with_mismatched_geometry", race_with_mismatched_geometry),
        Trial::test("broadcast_across_processes", broadcast_across_processes),
        Trial::test("work_stealing_across_processes", work_stealing_across_processes),
        Trial::test("examples_producer_to_consumer", examples_producer_to_consumer),
        // It stops a creator at a failpoint, which only a build with the
        // `failpoints` feature has (not the packaged crate: cargo drops the
        // self dev-dependency that enables it).
        Trial::test("dead_creator_mid_initialisation_then_recovery", dead_creator_mid_initialisation_then_recovery)
            .with_ignored_flag(!cfg!(feature = "failpoints")),
    ]
    .into_iter()
    .chain(platform_trials())
    .collect();
    libtest_mimic::run(&args, tests).exit();
}

#[cfg(target_os = "linux")]
fn platform_trials() -> Vec<Trial> {
    hardening::trials().into_iter().chain(host::trials()).collect()
}

/// The Linux-only tests (see `mod hardening`) are listed as ignored, with
/// the reason, rather than silently missing.
#[cfg(not(target_os = "linux"))]
fn platform_trials() -> Vec<Trial> {
    ["dead-process and permission tests (hardening/)", "hostile-host tests (host.rs)"]
        .into_iter()
        .map(|what| {
            Trial::test(format!("{what}: Linux only (SIGKILL at failpoints, /dev/shm, uid switching)"), || Ok(()))
                .with_ignored_flag(true)
        })
        .collect()
}

/// How long racers wait for each other, and (on Windows) hold the queue
/// afterwards. A Windows mapping lives only while some process holds it, so
/// racers that exited before a late one started would let it create a
/// second segment; and a process starts slowly under Wine.
const RACE_START: Duration = if cfg!(windows) { Duration::from_secs(3) } else { Duration::from_millis(300) };
const RACE_HOLD: Duration = if cfg!(windows) { Duration::from_secs(3) } else { Duration::ZERO };

// ---------------------------------------------------------------- roles

/// Record format of these tests: 16-byte elements, `[seq u64][producer u64]`.
const ES: u32 = 16;

fn run_role(role: &str, a: &[String]) -> i32 {
    let arg = |i: usize| a.get(i).map(String::as_str).unwrap_or("");
    let num = |i: usize| arg(i).parse::<u64>().unwrap_or(0);
    let result: Result<(), Error> = match role {
        // race NAME SIZE START_UNIX_NANOS
        "race" => {
            let start = num(2) as u128;
            while SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0) < start {
                std::hint::spin_loop();
            }
            ByteQueue::create_or_open(arg(0), num(1) as u32, ES, &Options::new()).map(|q| {
                println!(
                    "created={} size={} es={} ips={}",
                    q.is_creator(),
                    q.capacity(),
                    q.element_size(),
                    q.items_per_slot()
                );
                std::thread::sleep(RACE_HOLD);
            })
        }
        // hold NAME SIZE: create or open, then keep the queue until killed
        "hold" => ByteQueue::create_or_open(arg(0), num(1) as u32, ES, &Options::new()).map(|q| {
            println!("holding created={}", q.is_creator());
            std::thread::sleep(Duration::from_secs(120));
        }),
        // produce NAME COUNT ID
        "produce" => ByteQueue::open(arg(0), ES, &Options::new()).and_then(|q| {
            let mut rec = [0u8; 16];
            for seq in 0..num(1) {
                rec[..8].copy_from_slice(&seq.to_le_bytes());
                rec[8..].copy_from_slice(&num(2).to_le_bytes());
                q.push(&rec)?;
            }
            Ok(())
        }),
        // consume NAME TOTAL: broadcast reader from index 0, checks per-producer order
        "consume" => ByteQueue::open(arg(0), ES, &Options::new()).map(|q| {
            let total = num(1);
            let mut next = std::collections::HashMap::<u64, u64>::new();
            let (mut cursor, mut got, mut bad) = (0u64, 0u64, 0u64);
            let mut rec = [0u8; 16];
            while got < total {
                let Some(r) = q.read_timeout(&mut cursor, Duration::from_secs(20)) else { break };
                r.copy_to(&mut rec);
                let seq = u64::from_le_bytes(rec[..8].try_into().unwrap_or_default());
                let id = u64::from_le_bytes(rec[8..].try_into().unwrap_or_default());
                let n = next.entry(id).or_insert(0);
                if seq != *n {
                    bad += 1;
                }
                *n = seq + 1;
                got += 1;
            }
            println!("received={got} bad={bad} lost={} producers={}", q.loss_count(), next.len());
        }),
        // steal NAME CURSOR: claim through the shared cursor until idle
        "steal" => ByteQueue::open(arg(0), ES, &Options::new()).and_then(|q| {
            let cursor = SharedCursor::open(arg(1))?;
            let mut rec = [0u8; 16];
            while let Some(r) = q.read_shared_timeout(&cursor, Duration::from_millis(1500)) {
                r.copy_to(&mut rec);
                let seq = u64::from_le_bytes(rec[..8].try_into().unwrap_or_default());
                let id = u64::from_le_bytes(rec[8..].try_into().unwrap_or_default());
                println!("claimed {id} {seq}");
            }
            Ok(())
        }),
        other => {
            eprintln!("unknown role {other}");
            return 2;
        }
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            println!("error={e}");
            3
        }
    }
}

// ---------------------------------------------------------------- harness

/// A running child whose stdout lines are forwarded by a thread (so a chatty
/// child never blocks on a full pipe) and can be awaited one by one. A child
/// still running when its `Kid` is dropped (a test that failed early) is
/// killed, so no test leaves processes behind.
struct Kid {
    child: Child,
    rx: mpsc::Receiver<String>,
    seen: Vec<String>,
    reader: Option<std::thread::JoinHandle<()>>,
}

fn spawn(role: &str, args: &[&str]) -> Kid {
    let cmd = Command::new(std::env::current_exe().expect("current_exe"));
    collect(cmd, role, args)
}

/// Like [`spawn`], with extra environment variables.
fn spawn_env(role: &str, args: &[&str], env: &[(&str, &str)]) -> Kid {
    let mut cmd = Command::new(std::env::current_exe().expect("current_exe"));
    cmd.envs(env.iter().copied());
    collect(cmd, role, args)
}

fn collect(mut cmd: Command, role: &str, args: &[&str]) -> Kid {
    let mut child = cmd
        .env("SQ_ROLE", role)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child");
    let out = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Kid { child, rx, seen: Vec::new(), reader: Some(reader) }
}

impl Kid {
    /// Waits until the child prints a line starting with `prefix` and
    /// returns it; fails if the child closes its output first or `limit`
    /// passes (a handshake, not a sleep).
    fn wait_line(&mut self, prefix: &str, limit: Duration) -> Result<String, Failed> {
        let deadline = Instant::now() + limit;
        loop {
            match self.rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.starts_with(prefix) {
                        return Ok(line);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    return Err(format!("no line {prefix:?} within {limit:?}; saw {:?}", self.seen).into())
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().ok();
                    return Err(format!("child ended ({status:?}) before printing {prefix:?}: {:?}", self.seen).into());
                }
            }
        }
    }

    /// Every line the child printed, once its output is closed.
    fn drain(&mut self) -> Vec<String> {
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        self.seen.extend(self.rx.try_iter());
        std::mem::take(&mut self.seen)
    }

    /// SIGKILLs the child and reaps it; the status must say it was killed.
    #[cfg(target_os = "linux")]
    fn sigkill(&mut self) -> Result<Vec<String>, Failed> {
        self.child.kill()?;
        let status = self.child.wait()?;
        ensure(status.signal() == Some(9), format!("child was not killed by SIGKILL: {status:?}"))?;
        Ok(self.drain())
    }
}

impl Drop for Kid {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Waits for a child (killing it after `limit`) and returns (exit code, stdout lines).
fn finish(mut kid: Kid, limit: Duration) -> Result<(i32, Vec<String>), Failed> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = kid.child.try_wait().map_err(|e| e.to_string())? {
            let lines = kid.drain();
            return Ok((status.code().unwrap_or(-1), lines));
        }
        if Instant::now() > deadline {
            let _ = kid.child.kill();
            let _ = kid.child.wait();
            return Err(format!("child did not finish within {limit:?}; output {:?}", kid.drain()).into());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn ensure(cond: bool, msg: impl Into<String>) -> Result<(), Failed> {
    if cond {
        Ok(())
    } else {
        Err(msg.into().into())
    }
}

fn start_time(after: Duration) -> String {
    (SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default() + after).as_nanos().to_string()
}

// ---------------------------------------------------------------- tests

/// N processes race create-or-open on one name at the same instant: exactly
/// one initializes the segment and all agree on its geometry.
fn race_create_or_open_one_creator() -> Result<(), Failed> {
    for round in 0..3 {
        let g = ShmGuard::new(&format!("race{round}"));
        let at = start_time(RACE_START);
        let mut kids: Vec<Kid> = (0..8).map(|_| spawn("race", &[&g.name, "256", &at])).collect();
        // Attach while the racers still hold the queue (on Windows it goes
        // with its last holder); it must be usable afterwards.
        kids[0].wait_line("created=", Duration::from_secs(30))?;
        let q = ByteQueue::open(&g.name, ES, &Options::new())?;
        let mut creators = 0;
        for k in kids {
            let (code, lines) = finish(k, Duration::from_secs(20))?;
            ensure(code == 0, format!("child failed: {lines:?}"))?;
            let line = lines.first().ok_or("no output")?;
            if line.starts_with("created=true") {
                creators += 1;
            }
            ensure(line.ends_with("size=256 es=16 ips=1"), format!("geometry disagrees: {line}"))?;
        }
        ensure(creators == 1, format!("{creators} creators in round {round}"))?;
        q.push(b"usable afterwards")?;
    }
    Ok(())
}

/// Racers that disagree on the capacity: one creates, the ones that agree
/// with it attach, the others fail with a size mismatch.
fn race_with_mismatched_geometry() -> Result<(), Failed> {
    let g = ShmGuard::new("racemix");
    let at = start_time(RACE_START);
    let kids: Vec<(Kid, &str)> = (0..6)
        .map(|i| {
            let size = if i % 2 == 0 { "64" } else { "128" };
            (spawn("race", &[&g.name, size, &at]), size)
        })
        .collect();
    let mut created_size = None;
    let mut results = Vec::new();
    for (k, size) in kids {
        let (code, lines) = finish(k, Duration::from_secs(20))?;
        let line = lines.first().cloned().unwrap_or_default();
        if line.starts_with("created=true") {
            ensure(created_size.is_none(), "two creators")?;
            created_size = Some(size);
        }
        results.push((code, line, size));
    }
    let winner = created_size.ok_or("no creator")?;
    for (code, line, size) in results {
        if size == winner {
            ensure(code == 0 && line.contains(&format!("size={winner}")), format!("agreeing racer failed: {line}"))?;
        } else {
            ensure(code == 3 && line.contains("size mismatch"), format!("disagreeing racer: {code} {line}"))?;
        }
    }
    Ok(())
}

/// Three producer processes and two broadcast consumer processes (started
/// first): every consumer sees every record of every producer, in order.
fn broadcast_across_processes() -> Result<(), Failed> {
    let g = ShmGuard::new("bcast");
    const PER: u64 = 20_000;
    let _q = ByteQueue::create_or_open(&g.name, 1 << 17, ES, &Options::new())?;
    let total = (3 * PER).to_string();
    let consumers: Vec<Kid> = (0..2).map(|_| spawn("consume", &[&g.name, &total])).collect();
    let per = PER.to_string();
    let producers: Vec<Kid> = (0..3).map(|id| spawn("produce", &[&g.name, &per, &id.to_string()])).collect();
    for p in producers {
        let (code, lines) = finish(p, Duration::from_secs(60))?;
        ensure(code == 0, format!("producer failed: {lines:?}"))?;
    }
    for c in consumers {
        let (code, lines) = finish(c, Duration::from_secs(60))?;
        ensure(code == 0, format!("consumer failed: {lines:?}"))?;
        ensure(lines == vec![format!("received={total} bad=0 lost=0 producers=3")], format!("{lines:?}"))?;
    }
    Ok(())
}

/// Two consumer processes share a cursor object while this process
/// produces: each record is claimed exactly once across them.
fn work_stealing_across_processes() -> Result<(), Failed> {
    let mut g = ShmGuard::new("steal");
    let cursor_name = g.also("cursor");
    const N: u64 = 30_000;
    let q = ByteQueue::create_or_open(&g.name, 1 << 16, ES, &Options::new())?;
    let cursor = SharedCursor::create_or_open(&cursor_name, &Options::new())?;
    ensure(cursor.load(Ordering::Acquire) == 0, "fresh cursor is 0")?;
    let kids: Vec<Kid> = (0..2).map(|_| spawn("steal", &[&g.name, &cursor_name])).collect();
    let mut rec = [0u8; 16];
    for seq in 0..N {
        rec[..8].copy_from_slice(&seq.to_le_bytes());
        rec[8..].copy_from_slice(&7u64.to_le_bytes());
        q.push(&rec)?;
    }
    let mut seen = BTreeSet::new();
    let mut per_child = Vec::new();
    for k in kids {
        let (code, lines) = finish(k, Duration::from_secs(60))?;
        ensure(code == 0, format!("consumer failed: {:?}", lines.last()))?;
        per_child.push(lines.len());
        for l in lines {
            let seq: u64 = l.rsplit(' ').next().and_then(|s| s.parse().ok()).ok_or("bad line")?;
            ensure(l.starts_with("claimed 7 "), l.clone())?;
            ensure(seen.insert(seq), format!("record {seq} claimed twice"))?;
        }
    }
    ensure(seen.len() as u64 == N, format!("{} of {N} records claimed ({per_child:?})", seen.len()))?;
    ensure(cursor.load(Ordering::Acquire) == N, "cursor ends at the write index")?;
    Ok(())
}

/// The README's example programs: a consumer process started first, then a
/// producer process.
fn examples_producer_to_consumer() -> Result<(), Failed> {
    let g = ShmGuard::new("examples");
    let consume = collect(
        Command::new(testkit::example("consume")),
        "none",
        &[&g.name, "50000", "64", "--size", "65536", "--quiet"],
    );
    // The consumer creates the queue; wait for it before producing.
    let deadline = Instant::now() + Duration::from_secs(30);
    while slick_queue::inspect::segment_info(&g.name).is_err() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = Command::new(testkit::example("produce")).args([&g.name, "50000", "64"]).output()?;
    ensure(out.status.success(), String::from_utf8_lossy(&out.stderr).to_string())?;
    let (code, lines) = finish(consume, Duration::from_secs(60))?;
    ensure(code == 0, format!("{lines:?}"))?;
    let last = lines.last().ok_or("no summary")?;
    ensure(last.starts_with("received=") && last.ends_with(" ok"), last.clone())?;
    // received + lost accounts for all 50000 records
    let field = |k: &str| -> u64 {
        last.split(' ').find_map(|kv| kv.strip_prefix(k)).and_then(|v| v.parse().ok()).unwrap_or(u64::MAX)
    };
    ensure(field("received=") + field("lost=") == 50_000, last.clone())?;
    Ok(())
}

/// A creator killed between claiming the segment (`init_state` 2) and
/// publishing it (the failpoint stops it there): openers and other creators
/// time out with `InitTimeout { state: 2 }` instead of using or rewriting the
/// half-written header. After the documented recovery (Linux and macOS:
/// remove the name; Windows: nothing, the mapping went with its last holder)
/// the next create-or-open initializes a fresh segment.
fn dead_creator_mid_initialisation_then_recovery() -> Result<(), Failed> {
    let g = ShmGuard::new("deadinit");
    let mut kid = spawn_env("hold", &[&g.name, "64"], &[("SLICK_QUEUE_FAILPOINT", "attach-claimed")]);
    let quick = Options::new().init_timeout(Duration::from_millis(100));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match ByteQueue::open(&g.name, ES, &quick) {
            Err(Error::InitTimeout { state: 2, .. }) => break,
            Err(Error::NotFound { .. } | Error::InitTimeout { state: 0, .. }) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            other => return Err(format!("open-only while the creator is stuck: {other:?}").into()),
        }
    }
    match ByteQueue::create_or_open(&g.name, 64, ES, &quick) {
        Err(Error::InitTimeout { state: 2, .. }) => {}
        other => return Err(format!("create-or-open while the creator is stuck: {other:?}").into()),
    }
    kid.child.kill()?;
    kid.child.wait()?;
    ensure(kid.drain().is_empty(), "the creator never got past the failpoint")?;
    if slick_queue::REMOVE_UNLINKS {
        ensure(slick_queue::remove(&g.name)?, "the stuck segment is removed")?;
    }
    let q = ByteQueue::create_or_open(&g.name, 64, ES, &Options::new())?;
    ensure(q.is_creator(), "a fresh segment, initialized by this process")?;
    q.push(&[1u8; 16])?;
    let mut cursor = 0;
    ensure(q.read(&mut cursor).map(|r| r.to_vec()) == Some(vec![1u8; 16]), "usable")?;
    Ok(())
}
