//! The doorbell across real processes over real shared memory: sleeping
//! readers are woken by our producers' publishes, never miss one in a tight
//! publish/sleep race, still see records of producers that never ring within
//! the bounded poll interval, can be woken to stop, and the doorbell object
//! is created beside the queue and removed with it.
//!
//! Most tests give the waiting readers a poll interval of tens of seconds:
//! a wake-up that the doorbell failed to deliver then shows up as a wait far
//! longer than the generous limits below, instead of hiding behind the
//! default 1 ms poll.
//!
//! Like the `processes` test binary, this one is its own child: with `SQ_ROLE=<role>`
//! it plays that role instead of running tests.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};
use slick_queue::{doorbell_name, Options, Queue};
use testkit::ShmGuard;

fn main() {
    if cfg!(miri) {
        // Every test here maps shared memory and most spawn processes:
        // system calls Miri does not emulate. The Miri stage runs this
        // binary only for completeness (it runs whole crates).
        println!("doorbell: skipped under Miri: shared memory and child processes are not emulated");
        return;
    }
    if let Ok(role) = std::env::var("SQ_ROLE") {
        let args: Vec<String> = std::env::args().skip(1).collect();
        std::process::exit(run_role(&role, &args));
    }
    let args = Arguments::from_args();
    // These need the doorbell object and POSIX removal (Linux): on Windows
    // (run under Wine here) there is no doorbell object, waits poll, and
    // `remove` unlinks nothing, so they are listed as ignored with that reason.
    let linux_only = |t: Trial| t.with_ignored_flag(!cfg!(target_os = "linux"));
    let mut tests = vec![
        linux_only(Trial::test(
            "doorbell_object_created_and_removed_with_the_queue",
            doorbell_object_created_and_removed_with_the_queue,
        )),
        Trial::test("waits_without_a_doorbell_still_see_records", waits_without_a_doorbell_still_see_records),
        Trial::test("publish_rings_only_for_sleepers", publish_rings_only_for_sleepers),
        linux_only(Trial::test("wake_waiters_stops_sleepers", wake_waiters_stops_sleepers)),
        linux_only(Trial::test("blocking_waits_return_records", blocking_waits_return_records)),
        linux_only(Trial::test(
            "an_object_that_is_not_a_doorbell_is_never_written",
            an_object_that_is_not_a_doorbell_is_never_written,
        )),
    ];
    if cfg!(target_os = "linux") {
        tests.extend([
            Trial::test("wake_on_publish_across_processes", wake_on_publish_across_processes),
            Trial::test("no_lost_wakeup_in_a_tight_publish_sleep_race", no_lost_wakeup_in_a_tight_publish_sleep_race),
            Trial::test(
                "no_lost_wakeup_in_a_tight_publish_sleep_race_exclusive_producers",
                no_lost_wakeup_in_a_tight_publish_sleep_race_exclusive_producers,
            ),
            Trial::test(
                "non_ringing_producer_observed_within_the_interval",
                non_ringing_producer_observed_within_the_interval,
            ),
            Trial::test(
                "stale_waiter_count_of_a_killed_sleeper_is_reset",
                stale_waiter_count_of_a_killed_sleeper_is_reset,
            ),
            Trial::test(
                "a_link_planted_at_the_doorbell_name_is_never_followed",
                a_link_planted_at_the_doorbell_name_is_never_followed,
            ),
        ]);
    } else {
        // The futex doorbell is Linux-only; elsewhere waits poll (covered
        // by the tests above).
        println!("doorbell: cross-process wake tests skipped: no futex doorbell on this platform");
    }
    libtest_mimic::run(&args, tests).exit();
}

/// Options with a long poll interval (see the module docs).
fn slow_poll() -> Options {
    Options::new().poll_interval(Duration::from_secs(30))
}

/// Generous limit for "it woke up at all".
const LIMIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------- roles

fn run_role(role: &str, a: &[String]) -> i32 {
    let arg = |i: usize| a.get(i).map(String::as_str).unwrap_or("");
    let num = |i: usize| arg(i).parse::<u64>().unwrap_or(0);
    let interval = |i: usize| Options::new().poll_interval(Duration::from_millis(num(i)));
    match role {
        // sleeper NAME COUNT INTERVAL_MS: reads COUNT records from index 0,
        // printing each; waits with the given poll interval.
        "sleeper" => {
            let Ok(q) = Queue::<u64>::open(arg(0), &interval(2)) else { return 3 };
            println!("ready");
            let mut cursor = 0;
            for _ in 0..num(1) {
                match q.read_timeout(&mut cursor, Duration::from_secs(60)) {
                    Some(r) => println!("got {}", r.value()),
                    None => {
                        println!("timeout");
                        return 1;
                    }
                }
            }
            0
        }
        // pong A B ROUNDS INTERVAL_MS [excl]: reads k from A, answers k on B
        // (as B's exclusive producer with `excl`).
        "pong" => {
            let answer = interval(3).exclusive_producer(arg(4) == "excl");
            let (Ok(qa), Ok(qb)) = (Queue::<u64>::open(arg(0), &interval(3)), Queue::<u64>::open(arg(1), &answer))
            else {
                return 3;
            };
            println!("ready");
            let mut cursor = 0;
            for k in 0..num(2) {
                match qa.read_timeout(&mut cursor, LIMIT) {
                    Some(r) if r.value() == k => {}
                    Some(r) => {
                        println!("bad {k} {}", r.value());
                        return 1;
                    }
                    None => {
                        println!("stalled {k}");
                        return 1;
                    }
                }
                if qb.push(k).is_err() {
                    return 3;
                }
            }
            println!("done");
            0
        }
        // silent_push NAME VALUE: a producer without the doorbell (like a
        // C++ or original Python peer's, it never rings).
        "silent_push" => {
            let Ok(q) = Queue::<u64>::open(arg(0), &Options::new().doorbell(false)) else { return 3 };
            if q.push(num(1)).is_err() {
                return 3;
            }
            println!("pushed");
            0
        }
        other => {
            eprintln!("unknown role {other}");
            2
        }
    }
}

// ---------------------------------------------------------------- harness

/// A child whose stdout lines arrive on a channel; killed if still running
/// when dropped.
struct Kid {
    child: Child,
    rx: mpsc::Receiver<String>,
    seen: Vec<String>,
}

fn spawn(role: &str, args: &[&str]) -> Kid {
    let mut child = Command::new(std::env::current_exe().expect("current_exe"))
        .env("SQ_ROLE", role)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child");
    let out = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Kid { child, rx, seen: Vec::new() }
}

impl Kid {
    fn line(&mut self, limit: Duration) -> Result<String, Failed> {
        match self.rx.recv_timeout(limit) {
            Ok(l) => {
                self.seen.push(l.clone());
                Ok(l)
            }
            Err(e) => Err(format!("no line from the child within {limit:?} ({e}); saw {:?}", self.seen).into()),
        }
    }

    fn expect(&mut self, want: &str, limit: Duration) -> Result<(), Failed> {
        let got = self.line(limit)?;
        if got != want {
            return Err(format!("child printed {got:?}, expected {want:?}").into());
        }
        Ok(())
    }

    fn success(&mut self) -> Result<(), Failed> {
        let deadline = Instant::now() + LIMIT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return if status.success() {
                    Ok(())
                } else {
                    Err(format!("child {status}; saw {:?}", self.seen).into())
                };
            }
            if Instant::now() > deadline {
                return Err(format!("child still running after {LIMIT:?}").into());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Kid {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Waits until `n` readers are asleep on the queue's doorbell.
fn until_sleeping(q: &Queue<u64>, n: u32) -> Result<(), Failed> {
    let deadline = Instant::now() + LIMIT;
    while q.sleeping_readers().unwrap_or(0) < n {
        if Instant::now() > deadline {
            return Err(format!("{n} reader(s) never went to sleep (now {:?})", q.sleeping_readers()).into());
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    Ok(())
}

/// The ring counter of the doorbell of `name`, read from the object.
fn ring_count(name: &str) -> Result<u32, Failed> {
    let mut b = [0u8; 4];
    let n = slick_queue::inspect::read_bytes(&doorbell_name(name), 0, &mut b)?;
    if n != 4 {
        return Err("doorbell object too short".into());
    }
    Ok(u32::from_ne_bytes(b))
}

fn exists(name: &str) -> bool {
    slick_queue::inspect::segment_info(name).is_ok()
}

// ---------------------------------------------------------------- tests

fn doorbell_object_created_and_removed_with_the_queue() -> Result<(), Failed> {
    let g = ShmGuard::new("bell_rm");
    let bell = doorbell_name(&g.name);
    let q = Queue::<u64>::create_or_open(&g.name, 64, &Options::new())?;
    if cfg!(target_os = "linux") {
        let info = slick_queue::inspect::segment_info(&bell)?;
        assert_eq!(info.len, slick_queue::DOORBELL_LEN, "doorbell object length");
        assert_eq!(q.sleeping_readers(), Some(0));
    } else {
        assert!(!exists(&bell), "no doorbell object off Linux");
    }
    // remove() takes the doorbell with the queue
    assert!(slick_queue::remove(&g.name)?);
    assert!(!exists(&g.name) && !exists(&bell), "queue or doorbell left behind by remove()");
    drop(q);

    // remove_shm() too
    let q = Queue::<u64>::create_or_open(&g.name, 64, &Options::new())?;
    assert!(q.remove_shm()?);
    assert!(!exists(&g.name) && !exists(&bell), "queue or doorbell left behind by remove_shm()");
    drop(q);

    // a handle without the doorbell creates no object
    let q = Queue::<u64>::create_or_open(&g.name, 64, &Options::new().doorbell(false))?;
    assert!(!exists(&bell), "doorbell(false) created the doorbell object");
    assert_eq!(q.sleeping_readers(), None);
    Ok(())
}

fn waits_without_a_doorbell_still_see_records() -> Result<(), Failed> {
    // A name so long that `<name>.doorbell` is not a valid name: the queue
    // works, without a doorbell, and its waits poll.
    let g = ShmGuard::new("bell_long");
    // The longest name the platform takes (without the leading '/').
    let max_len = if cfg!(target_os = "macos") { 30 } else { 255 };
    let long = format!("{}_{}", g.name, "x".repeat(max_len - g.name.len() - 1));
    let _cleanup = LongName(long.clone());
    let q = Arc::new(Queue::<u64>::create_or_open(&long, 64, &Options::new())?);
    assert_eq!(q.sleeping_readers(), None, "a doorbell for a name with no room for the suffix");
    assert_eq!(pushed_while_waiting(&q, 7)?, Some(7));

    // A local queue without the doorbell polls too.
    let q = Arc::new(Queue::<u64>::with_options(64, &Options::new().doorbell(false))?);
    assert_eq!(pushed_while_waiting(&q, 8)?, Some(8));
    Ok(())
}

/// A reader thread waits (up to `LIMIT`) at index 0 of `q` while this
/// thread pushes `value` 20 ms later; what the reader got.
fn pushed_while_waiting(q: &Arc<Queue<u64>>, value: u64) -> Result<Option<u64>, Failed> {
    let reader = {
        let q = Arc::clone(q);
        std::thread::spawn(move || {
            let mut c = 0;
            q.read_timeout(&mut c, LIMIT).map(|r| r.value())
        })
    };
    std::thread::sleep(Duration::from_millis(20));
    q.push(value)?;
    Ok(reader.join().map_err(|_| "reader panicked")?)
}

struct LongName(String);
impl Drop for LongName {
    fn drop(&mut self) {
        let _ = slick_queue::remove(&self.0);
    }
}

fn publish_rings_only_for_sleepers() -> Result<(), Failed> {
    if !cfg!(target_os = "linux") {
        println!("publish_rings_only_for_sleepers: skipped, no doorbell object off Linux");
        return Ok(());
    }
    let g = ShmGuard::new("bell_ring");
    let q = Arc::new(Queue::<u64>::create_or_open(&g.name, 1024, &slow_poll())?);
    let before = ring_count(&g.name)?;
    for i in 0..100 {
        q.push(i)?;
    }
    assert_eq!(ring_count(&g.name)?, before, "publishes rang although nobody slept");

    let reader = {
        let q = Arc::clone(&q);
        std::thread::spawn(move || {
            let mut c = 100;
            q.read_timeout(&mut c, Duration::from_secs(60)).map(|r| r.value())
        })
    };
    until_sleeping(&q, 1)?;
    let t = Instant::now();
    q.push(100)?;
    assert_eq!(reader.join().map_err(|_| "reader panicked")?, Some(100));
    assert!(t.elapsed() < LIMIT, "the sleeper was not woken by the publish (interval is 30 s)");
    assert!(ring_count(&g.name)? != before, "the publish did not ring for a sleeper");
    assert_eq!(q.sleeping_readers(), Some(0), "the woken reader is still counted");
    Ok(())
}

fn wake_waiters_stops_sleepers() -> Result<(), Failed> {
    let g = ShmGuard::new("bell_stop");
    let shared = Arc::new(Queue::<u64>::create_or_open(&g.name, 64, &slow_poll())?);
    let local = Arc::new(Queue::<u64>::with_options(64, &slow_poll())?);
    for q in [shared, local] {
        let stop = Arc::new(AtomicBool::new(false));
        let mut sleepers = Vec::new();
        for kind in 0..3 {
            let (q, stop) = (Arc::clone(&q), Arc::clone(&stop));
            sleepers.push(std::thread::spawn(move || {
                let is_stopped = || stop.load(Ordering::Acquire);
                match kind {
                    0 => {
                        let mut c = 0;
                        q.read_timeout_or_stop(&mut c, None, &is_stopped).is_none()
                    }
                    1 => {
                        let c = std::sync::atomic::AtomicU64::new(0);
                        q.as_bytes().read_shared_timeout_or_stop(&c, None, &is_stopped).is_none()
                    }
                    _ => !q.wait_published(0, None, &is_stopped),
                }
            }));
        }
        if cfg!(target_os = "linux") || q.name().is_none() {
            until_sleeping(&q, 3)?;
        } else {
            std::thread::sleep(Duration::from_millis(50));
        }
        let t = Instant::now();
        stop.store(true, Ordering::Release);
        q.wake_waiters();
        for s in sleepers {
            assert!(s.join().map_err(|_| "sleeper panicked")?, "a stopped wait returned a record");
        }
        // The poll interval is 30 s: returning quickly means the ring woke them.
        if cfg!(target_os = "linux") || q.name().is_none() {
            assert!(t.elapsed() < LIMIT, "wake_waiters did not wake the sleepers");
        }
    }
    Ok(())
}

fn wake_on_publish_across_processes() -> Result<(), Failed> {
    let g = ShmGuard::new("bell_wake");
    let q = Queue::<u64>::create_or_open(&g.name, 64, &Options::new())?;
    let rounds = 20;
    let mut kid = spawn("sleeper", &[&g.name, &rounds.to_string(), "30000"]);
    kid.expect("ready", LIMIT)?;
    for k in 0..rounds {
        until_sleeping(&q, 1)?;
        q.push(1000 + k)?;
        // The child's poll interval is 30 s: only the doorbell wakes it in time.
        kid.expect(&format!("got {}", 1000 + k), LIMIT)?;
    }
    kid.success()
}

fn no_lost_wakeup_in_a_tight_publish_sleep_race() -> Result<(), Failed> {
    publish_sleep_race(false)
}

/// The same race with both publishers exclusive producers: their publishes
/// take no locked instruction, and the sleepers' asymmetric barrier (see
/// `doorbell.rs`) must still order them against going to sleep.
fn no_lost_wakeup_in_a_tight_publish_sleep_race_exclusive_producers() -> Result<(), Failed> {
    // (Run on Linux only, like the other cross-process wake tests.)
    #[cfg(target_os = "linux")]
    {
        use rustix::thread::{membarrier_query, MembarrierQuery};
        let needed = MembarrierQuery::GLOBAL_EXPEDITED | MembarrierQuery::REGISTER_GLOBAL_EXPEDITED;
        if !membarrier_query().contains(needed) {
            // Without the system call the crate falls back to the poll
            // interval for this race (documented), which this test, with a
            // 30 s interval, would report as a stall.
            println!(
                "no_lost_wakeup_..._exclusive_producers: skipped: this kernel (or sandbox) offers no expedited membarrier"
            );
            return Ok(());
        }
    }
    publish_sleep_race(true)
}

/// Two processes ping-pong `rounds` records, each side sleeping on its
/// queue's doorbell between them with a 30 s poll interval: a lost wake-up
/// stalls a round far beyond `LIMIT`.
fn publish_sleep_race(exclusive: bool) -> Result<(), Failed> {
    let mut g = ShmGuard::new(if exclusive { "bell_race_x" } else { "bell_race" });
    let back = g.also("back");
    let rounds: u64 = if cfg!(debug_assertions) { 3000 } else { 10_000 };
    let qa = Queue::<u64>::create_or_open(&g.name, 1024, &slow_poll().exclusive_producer(exclusive))?;
    let qb = Queue::<u64>::create_or_open(&back, 1024, &slow_poll())?;
    let excl = if exclusive { "excl" } else { "shared" };
    let mut kid = spawn("pong", &[&g.name, &back, &rounds.to_string(), "30000", excl]);
    kid.expect("ready", LIMIT)?;
    // A varying delay before each publish lands it in every phase of the
    // other side's wait: spinning, registering, re-checking, asleep.
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut cursor = 0;
    for k in 0..rounds {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let spin = Instant::now() + Duration::from_nanos(rng % 60_000);
        while Instant::now() < spin {
            std::hint::spin_loop();
        }
        qa.push(k)?;
        match qb.read_timeout(&mut cursor, LIMIT) {
            Some(r) if r.value() == k => {}
            Some(r) => return Err(format!("round {k}: answer {}", r.value()).into()),
            None => {
                return Err(
                    format!("round {k}: no answer within {LIMIT:?}: a lost wake-up; child saw {:?}", kid.seen).into()
                )
            }
        }
    }
    kid.expect("done", LIMIT)?;
    kid.success()
}

fn non_ringing_producer_observed_within_the_interval() -> Result<(), Failed> {
    let g = ShmGuard::new("bell_peer");
    // Default options: the reader polls every POLL_INTERVAL (1 ms).
    let q = Queue::<u64>::create_or_open(&g.name, 64, &Options::new())?;
    let rounds = 5;
    let mut kid = spawn("sleeper", &[&g.name, &rounds.to_string(), "1"]);
    kid.expect("ready", LIMIT)?;
    for k in 0..rounds {
        until_sleeping(&q, 1)?;
        let rings = ring_count(&g.name)?;
        let mut producer = spawn("silent_push", &[&g.name, &k.to_string()]);
        producer.expect("pushed", LIMIT)?;
        producer.success()?;
        kid.expect(&format!("got {k}"), LIMIT)?;
        assert_eq!(ring_count(&g.name)?, rings, "the non-ringing producer rang");
    }
    kid.success()
}

fn stale_waiter_count_of_a_killed_sleeper_is_reset() -> Result<(), Failed> {
    let g = ShmGuard::new("bell_stale");
    let q = Queue::<u64>::create_or_open(&g.name, 1024, &Options::new())?;
    let mut kid = spawn("sleeper", &[&g.name, "1", "30000"]);
    kid.expect("ready", LIMIT)?;
    until_sleeping(&q, 1)?;
    kid.child.kill()?;
    kid.child.wait()?;
    assert_eq!(q.sleeping_readers(), Some(1), "the killed sleeper's registration should linger");
    let rings = ring_count(&g.name)?;
    for i in 0..u64::from(slick_queue::DOORBELL_STALE_RINGS) {
        q.push(i)?;
    }
    assert_eq!(q.sleeping_readers(), Some(0), "producers did not reset the stale count");
    let after = ring_count(&g.name)?;
    for i in 0..100 {
        q.push(i)?;
    }
    assert!(after != rings, "producers never rang for the registered sleeper");
    assert_eq!(ring_count(&g.name)?, after, "producers still ring after the reset");
    Ok(())
}

/// The doorbell object is opened on the queue's hardened path (O_NOFOLLOW,
/// the fstat regular-file check): a symbolic link planted in /dev/shm under
/// `<name>.doorbell` is neither followed nor written through; the queue then
/// has no doorbell and its waits poll. Linux only (the only platform with a
/// doorbell object).
#[cfg(target_os = "linux")]
fn a_link_planted_at_the_doorbell_name_is_never_followed() -> Result<(), Failed> {
    let g = ShmGuard::new("bell_link");
    let bell = doorbell_name(&g.name);
    let link = std::path::Path::new("/dev/shm").join(&bell);
    let target = std::env::temp_dir().join(format!("slickq_bell_target_{}", std::process::id()));
    // The target looks like a doorbell (its length, its identification
    // word): a path that followed the link would adopt it and write to it.
    let mut fake = vec![0u8; slick_queue::DOORBELL_LEN as usize];
    let at = slick_queue::DOORBELL_MAGIC_OFFSET as usize;
    fake[at..at + 8].copy_from_slice(&slick_queue::DOORBELL_MAGIC.to_ne_bytes());
    std::fs::write(&target, &fake)?;
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&target, &link)?;
    let result = (|| -> Result<(), Failed> {
        let q = Arc::new(Queue::<u64>::create_or_open(&g.name, 64, &Options::new())?);
        assert_eq!(q.sleeping_readers(), None, "a symbolic link was adopted as the doorbell");
        assert_eq!(pushed_while_waiting(&q, 9)?, Some(9), "a polling wait missed the record");
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(std::fs::read(&target)?, fake, "the link's target was written");
        assert!(link.symlink_metadata()?.file_type().is_symlink(), "the planted link was replaced");
        Ok(())
    })();
    let _ = std::fs::remove_file(&link);
    let _ = std::fs::remove_file(&target);
    result
}

#[cfg(not(target_os = "linux"))]
fn a_link_planted_at_the_doorbell_name_is_never_followed() -> Result<(), Failed> {
    Ok(()) // not registered off Linux (see main)
}

fn an_object_that_is_not_a_doorbell_is_never_written() -> Result<(), Failed> {
    // A user's own queue that happens to be called `<name>.doorbell`, with
    // exactly a doorbell's length (8 u64 elements: 64 + 8 * 16 + 8 * 8 = 256
    // bytes): the queue `<name>` must not use it as its doorbell.
    let mut g = ShmGuard::new("bell_foreign");
    let impostor = g.also("x");
    let queue = impostor.clone();
    let impostor = doorbell_name(&queue);
    let _cleanup = LongName(impostor.clone());
    let other = Queue::<u64>::create_or_open(&impostor, 8, &Options::new())?;
    other.push(77)?;
    let info = slick_queue::inspect::segment_info(&impostor)?;
    assert_eq!(info.len, slick_queue::DOORBELL_LEN, "the fixture must have a doorbell's length");
    let mut before = vec![0u8; 256];
    slick_queue::inspect::read_bytes(&impostor, 0, &mut before)?;

    let q = Arc::new(Queue::<u64>::create_or_open(&queue, 64, &Options::new())?);
    assert_eq!(q.sleeping_readers(), None, "a queue adopted a foreign object as its doorbell");
    assert_eq!(slick_queue::inspect::sleeping_readers(&queue)?, None);
    assert_eq!(pushed_while_waiting(&q, 5)?, Some(5));
    let mut after = vec![0u8; 256];
    slick_queue::inspect::read_bytes(&impostor, 0, &mut after)?;
    assert_eq!(before, after, "the foreign object was written");
    let mut c = 0;
    assert_eq!(other.read(&mut c).map(|r| r.value()), Some(77));
    // Removing the queue leaves the other object alone.
    assert!(slick_queue::remove(&queue)?);
    assert!(exists(&impostor), "remove() unlinked an object that is not a doorbell");
    Ok(())
}

fn blocking_waits_return_records() -> Result<(), Failed> {
    let g = ShmGuard::new("bell_block");
    let q = Arc::new(Queue::<u64>::create_or_open(&g.name, 64, &slow_poll())?);
    let never = || false;
    // Nothing published: wait_published times out.
    assert!(!q.wait_published(0, Some(Duration::from_millis(20)), &never));
    let waiter = {
        let q = Arc::clone(&q);
        std::thread::spawn(move || {
            let never = || false;
            let published = q.wait_published(0, Some(Duration::from_secs(60)), &never);
            let mut c = 0;
            let private = q.read_wait(&mut c).value();
            let shared = std::sync::atomic::AtomicU64::new(1);
            let claimed = q.read_shared_wait(&shared).value();
            (published, private, c, claimed, shared.load(Ordering::Relaxed))
        })
    };
    until_sleeping(&q, 1)?;
    q.push(41)?;
    let t = Instant::now();
    while !waiter.is_finished() && t.elapsed() < LIMIT {
        // the shared-cursor wait needs a second record
        if q.sleeping_readers() == Some(1) && t.elapsed() > Duration::from_millis(10) {
            q.push(42)?;
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let (published, private, c, claimed, shared) = waiter.join().map_err(|_| "waiter panicked")?;
    assert!(published, "wait_published missed the publish");
    assert_eq!((private, c), (41, 1));
    assert_eq!((claimed, shared), (42, 2));
    Ok(())
}
