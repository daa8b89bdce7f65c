//! Dead processes: a producer killed between reserve and publish, creators
//! killed at each step of creating a segment, a work-stealing consumer
//! killed while holding a record it claimed.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use libtest_mimic::{Failed, Trial};
use slick_queue::{ByteQueue, Error, Options, SharedCursor};
use testkit::ShmGuard;

use super::{hang, rec16, say, seq_of, wait_for};
use crate::{ensure, finish, spawn, spawn_env, Kid, ES};

pub(super) fn trials() -> Vec<Trial> {
    vec![
        Trial::test("dead_producer_hole_is_skipped_after_one_lap", dead_producer_hole_is_skipped_after_one_lap),
        Trial::test("dead_producer_hole_multi_element_records", dead_producer_hole_multi_element_records),
        needs_failpoints(Trial::test("dead_creator_after_claiming_init_state", dead_creator_after_claiming_init_state)),
        needs_failpoints(Trial::test("dead_creator_before_sizing_the_object", dead_creator_before_sizing_the_object)),
        needs_failpoints(Trial::test("dead_creator_after_sizing_the_object", dead_creator_after_sizing_the_object)),
        Trial::test("dead_consumer_holding_a_shared_cursor", dead_consumer_holding_a_shared_cursor),
    ]
}

/// The dead-creator tests stop a child inside the library's attach code with
/// a failpoint, which only a build with the `failpoints` feature has (the
/// crate's self dev-dependency turns it on); a build without it marks these
/// tests ignored, since they cannot stop the child where they must.
fn needs_failpoints(trial: Trial) -> Trial {
    trial.with_ignored_flag(!cfg!(feature = "failpoints"))
}

/// The roles of this file; `None` when `role` is not one of them.
pub(super) fn run_role(role: &str, a: &[String]) -> Option<Result<(), Error>> {
    let arg = |i: usize| a.get(i).map(String::as_str).unwrap_or("");
    let num = |i: usize| arg(i).parse::<u64>().unwrap_or(0);
    Some(match role {
        // reserve_hang NAME N: reserve N elements, say where, never publish.
        "reserve_hang" => ByteQueue::open(arg(0), ES, &Options::new()).map(|q| {
            let index = q.reserve(num(1) as u32).expect("reserve");
            say(&format!("reserved {index}"));
            hang();
        }),
        // create NAME SIZE: create-or-open (a failpoint may stop it inside).
        "create" => ByteQueue::create_or_open(arg(0), num(1) as u32, ES, &Options::new()).map(|q| {
            say(&format!("returned created={}", q.is_creator()));
        }),
        // steal_hold NAME CURSOR K: claim K records, then claim one more and
        // hold it (never finish processing it) until killed.
        "steal_hold" => ByteQueue::open(arg(0), ES, &Options::new()).and_then(|q| {
            let cursor = SharedCursor::open(arg(1))?;
            let mut rec = [0u8; 16];
            for i in 0..=num(2) {
                let Some(r) = q.read_shared_timeout(&cursor, Duration::from_secs(60)) else {
                    say("starved");
                    return Ok(());
                };
                r.copy_to(&mut rec);
                let seq = u64::from_le_bytes(rec[..8].try_into().unwrap_or_default());
                say(&format!("{} {seq}", if i == num(2) { "holding" } else { "claimed" }));
            }
            hang();
        }),
        // steal_until NAME CURSOR END: claim until the cursor reaches END.
        "steal_until" => ByteQueue::open(arg(0), ES, &Options::new()).and_then(|q| {
            let cursor = SharedCursor::open(arg(1))?;
            let deadline = Instant::now() + Duration::from_secs(120);
            let mut rec = [0u8; 16];
            say("ready");
            while cursor.load(Ordering::Acquire) < num(2) && Instant::now() < deadline {
                if let Some(r) = q.read_shared_timeout(&cursor, Duration::from_millis(20)) {
                    r.copy_to(&mut rec);
                    say(&format!("claimed {}", u64::from_le_bytes(rec[..8].try_into().unwrap_or_default())));
                }
            }
            Ok(())
        }),
        _ => return None,
    })
}

/// A producer process reserves k elements and is SIGKILLed before it
/// publishes them. Readers (a private cursor, a shared cursor) stall at the
/// hole while the ring fills; the record that laps the hole's position lets
/// them skip it, with exactly one lap (capacity elements) counted as lost:
/// the hole and the records published after it that were overwritten while
/// they waited. Every record is then read or counted.
fn dead_producer_hole(cap: u32, k: u32) -> Result<(), Failed> {
    let g = ShmGuard::new(&format!("hole{k}"));
    let q = ByteQueue::create_or_open(&g.name, cap, ES, &Options::new().items_per_slot(1))?;
    let reader = ByteQueue::open(&g.name, ES, &Options::new())?;
    let stealer = ByteQueue::open(&g.name, ES, &Options::new())?;
    let push = |seq: u64| -> Result<u64, Error> {
        let i = q.reserve(k)?;
        q.write(i, &rec16(seq))?;
        q.publish(i, k)?;
        Ok(i)
    };
    ensure(push(0)? == 0, "first record at 0")?;
    let mut kid = spawn("reserve_hang", &[&g.name, &k.to_string()]);
    let line = kid.wait_line("reserved ", Duration::from_secs(30))?;
    ensure(line == format!("reserved {k}"), line.clone())?;
    kid.sigkill()?;

    let mut cursor = 0u64;
    let shared = std::sync::atomic::AtomicU64::new(0);
    ensure(reader.read(&mut cursor).map(|r| seq_of(&r)) == Some(0), "record 0")?;
    ensure(stealer.read_shared(&shared).map(|r| seq_of(&r)) == Some(0), "record 0 (shared)")?;
    let hole = u64::from(k);
    // Records 1.. fill the rest of the ring after the hole (the last one
    // overwrites record 0): they are published, but a reader cannot pass the
    // hole, so it sees nothing.
    let per_lap = u64::from(cap / k);
    for seq in 1..per_lap {
        let i = push(seq)?;
        ensure(i == (seq + 1) * u64::from(k), format!("record {seq} at {i}"))?;
        ensure(reader.read(&mut cursor).is_none() && cursor == hole, format!("reader stalls at the hole ({cursor})"))?;
        ensure(stealer.read_shared(&shared).is_none(), "shared reader stalls at the hole")?;
    }
    ensure(reader.loss_count() == 0 && stealer.loss_count() == 0, "nothing counted yet")?;
    // The record that lands on the hole's position, one lap later.
    let lap = push(per_lap)?;
    ensure(lap == hole + u64::from(cap), format!("lapping record at {lap}"))?;
    let r = reader.read(&mut cursor).ok_or("the reader skips the hole")?;
    ensure((r.index(), seq_of(&r)) == (lap, per_lap), format!("got {} {}", r.index(), seq_of(&r)))?;
    ensure(reader.loss_count() == u64::from(cap), format!("loss {} != one lap {cap}", reader.loss_count()))?;
    let r = stealer.read_shared(&shared).ok_or("the shared reader skips the hole")?;
    ensure(
        r.index() == lap && stealer.loss_count() == u64::from(cap),
        format!("shared loss {}", stealer.loss_count()),
    )?;
    // Accounting: records read (0 and the lapping one) plus lost elements
    // cover every element reserved up to the reader's cursor.
    ensure(cursor == lap + u64::from(k), format!("cursor {cursor}"))?;
    ensure(2 * u64::from(k) + reader.loss_count() == cursor, "read + lost == reserved")?;
    // From here on, reading is normal again.
    let next = push(per_lap + 1)?;
    ensure(reader.read(&mut cursor).map(|r| r.index()) == Some(next), "reads go on")?;
    ensure(reader.loss_count() == u64::from(cap), "no further loss")?;
    // read_last never cared about the hole.
    ensure(reader.read_last()?.map(|r| r.index()) == Some(next), "read_last sees the newest record")?;
    Ok(())
}

fn dead_producer_hole_is_skipped_after_one_lap() -> Result<(), Failed> {
    dead_producer_hole(16, 1)
}

fn dead_producer_hole_multi_element_records() -> Result<(), Failed> {
    dead_producer_hole(32, 4)
}

fn init_state(g: &ShmGuard) -> Option<u32> {
    let b = std::fs::read(g.path()).ok()?;
    (b.len() >= 64).then(|| testkit::u32_at(&b, 48))
}

/// A creator stopped by the `attach-claimed` failpoint (the library's own
/// code, right after its CAS of init_state 0 -> 2) and SIGKILLed there:
/// attachers time out with an error that names the state and the remedy;
/// removing the name recovers.
fn dead_creator_after_claiming_init_state() -> Result<(), Failed> {
    let g = ShmGuard::new("deadinit");
    let mut kid = spawn_env("create", &[&g.name, "64"], &[("SLICK_QUEUE_FAILPOINT", "attach-claimed")]);
    wait_for("init_state 2", Duration::from_secs(30), || (init_state(&g) == Some(2)).then_some(()))?;
    let lines = kid.sigkill()?;
    ensure(lines.is_empty(), format!("the creator returned: {lines:?}"))?;
    let b = std::fs::read(g.path())?;
    ensure(testkit::u32_at(&b, 24) == 0, "it died before writing the header")?;
    let quick = Options::new().init_timeout(Duration::from_millis(300));
    for e in [ByteQueue::open(&g.name, ES, &quick).err(), ByteQueue::create_or_open(&g.name, 64, ES, &quick).err()] {
        let e = e.ok_or("attached to a half-initialised segment")?;
        ensure(matches!(e, Error::InitTimeout { state: 2, .. }), format!("{e:?}"))?;
        ensure(e.to_string().contains("remove the name and create it again"), e.to_string())?;
    }
    ensure(slick_queue::remove(&g.name)?, "removed")?;
    let q = ByteQueue::create_or_open(&g.name, 64, ES, &quick)?;
    ensure(q.is_creator(), "a fresh creator")?;
    q.push(&rec16(1))?;
    let mut c = 0;
    ensure(ByteQueue::open(&g.name, ES, &quick)?.read(&mut c).map(|r| seq_of(&r)) == Some(1), "usable")?;
    Ok(())
}

/// A creator killed right after `shm_open(O_CREAT|O_EXCL)`, before
/// `ftruncate`: the object is empty; openers wait for it to be sized until
/// their deadline and fail with `Truncated`; nobody else truncates it;
/// removing the name recovers.
fn dead_creator_before_sizing_the_object() -> Result<(), Failed> {
    let g = ShmGuard::new("deadsize");
    let mut kid = spawn_env("create", &[&g.name, "64"], &[("SLICK_QUEUE_FAILPOINT", "attach-created")]);
    wait_for("the object", Duration::from_secs(30), || g.path().exists().then_some(()))?;
    kid.sigkill()?;
    let quick = Options::new().init_timeout(Duration::from_millis(200));
    let e = ByteQueue::open(&g.name, ES, &quick).err().ok_or("attached to an empty object")?;
    ensure(matches!(e, Error::Truncated { len: 0, needed: 64, .. }), format!("{e:?}"))?;
    ensure(std::fs::metadata(g.path())?.len() == 0, "still empty: an opener never sizes an object")?;
    // Create-or-open waits the init timeout for the object to be sized,
    // then treats it as abandoned: it replaces it and creates the queue.
    let started = Instant::now();
    let q = ByteQueue::create_or_open(&g.name, 64, ES, &quick)?;
    ensure(q.is_creator(), "create_or_open did not recreate the abandoned object")?;
    ensure(started.elapsed() >= Duration::from_millis(200), "replaced before the init timeout")?;
    q.push(&[7u8; 16])?;
    let other = ByteQueue::open(&g.name, ES, &quick)?;
    let mut c = 0;
    ensure(other.read(&mut c).is_some(), "the new queue is the one under the name")?;
    Ok(())
}

/// A creator killed after sizing the object, before its init_state CAS:
/// an open-only attacher times out (state 0), but the next create-or-open
/// wins the CAS and initializes the zeroed object itself: no removal needed.
fn dead_creator_after_sizing_the_object() -> Result<(), Failed> {
    let g = ShmGuard::new("deadsized");
    let mut kid = spawn_env("create", &[&g.name, "64"], &[("SLICK_QUEUE_FAILPOINT", "attach-sized")]);
    let want = slick_queue::Geometry::new(64, ES, 1)?.segment_len() as u64;
    wait_for("the sized object", Duration::from_secs(30), || {
        (std::fs::metadata(g.path()).map(|m| m.len()).ok() == Some(want)).then_some(())
    })?;
    kid.sigkill()?;
    let quick = Options::new().init_timeout(Duration::from_millis(200));
    let e = ByteQueue::open(&g.name, ES, &quick).err().ok_or("opened an uninitialised object")?;
    ensure(matches!(e, Error::InitTimeout { state: 0, .. }), format!("{e:?}"))?;
    let q = ByteQueue::create_or_open(&g.name, 64, ES, &quick)?;
    ensure(q.is_creator(), "the next create-or-open initializes it")?;
    ensure(ByteQueue::open(&g.name, ES, &quick).is_ok(), "and it opens")?;
    Ok(())
}

/// A work-stealing consumer process claims records through the shared
/// cursor object, then is SIGKILLed while holding one it claimed (between
/// the claim and finishing its work). The others carry on and claim every
/// other record exactly once; only the records the dead one claimed are
/// gone (the cursor has no owner to wait for, so nothing stalls).
fn dead_consumer_holding_a_shared_cursor() -> Result<(), Failed> {
    let mut g = ShmGuard::new("deadsteal");
    let cursor_name = g.also("cursor");
    const N: u64 = 3000;
    let q = ByteQueue::create_or_open(&g.name, 1 << 13, ES, &Options::new())?;
    let cursor = SharedCursor::create_or_open(&cursor_name, &Options::new())?;
    let end = N.to_string();
    let mut others: Vec<Kid> = (0..2).map(|_| spawn("steal_until", &[&g.name, &cursor_name, &end])).collect();
    for k in &mut others {
        k.wait_line("ready", Duration::from_secs(30))?;
    }
    let mut holder = spawn("steal_hold", &[&g.name, &cursor_name, "3"]);
    let mut seq = 0u64;
    let mut held = None;
    // Publish in small batches until the holder reports the record it holds.
    while held.is_none() && seq < N / 2 {
        for _ in 0..5 {
            q.push(&rec16(seq))?;
            seq += 1;
        }
        if let Ok(line) = holder.wait_line("holding ", Duration::from_millis(50)) {
            held = Some(line);
        }
    }
    let held = match held {
        Some(h) => h,
        None => holder.wait_line("holding ", Duration::from_secs(60))?,
    };
    let holder_lines = holder.sigkill()?;
    for s in seq..N {
        q.push(&rec16(s))?;
    }
    let mut seen = BTreeSet::new();
    let mut dead_claims = 0;
    for l in holder_lines.iter() {
        let s: u64 = l.rsplit(' ').next().and_then(|v| v.parse().ok()).ok_or("bad line")?;
        ensure(seen.insert(s), format!("record {s} claimed twice"))?;
        dead_claims += 1;
    }
    ensure(dead_claims == 4 && holder_lines.last() == Some(&held), format!("holder said {holder_lines:?}"))?;
    for k in others {
        let (code, lines) = finish(k, Duration::from_secs(120))?;
        ensure(code == 0, format!("consumer failed: {:?}", lines.last()))?;
        for l in lines.iter().filter(|l| l.starts_with("claimed ")) {
            let s: u64 = l[8..].parse().map_err(|_| "bad line")?;
            ensure(seen.insert(s), format!("record {s} claimed twice"))?;
        }
    }
    ensure(seen.len() as u64 == N, format!("{} of {N} records claimed", seen.len()))?;
    ensure(cursor.load(Ordering::Acquire) == N, "the cursor reached the end")?;
    Ok(())
}
