//! Integration tests of the `slickq` binary against real segments made by
//! the library and by the PyPI peer `slick-queue-py==2.3.0`.
//!
//! Every test uses its own segment names (the test process id and the test
//! name), cleans them up, and only looks at its own rows of `ls`, so the
//! tests can run in parallel with each other and with other programs' queues.
//!
//! Linux only: the fixtures write, age and stat the objects in /dev/shm, and
//! `ls` enumerates there. The CLI on Windows is tested by `windows.rs`.
#![cfg(target_os = "linux")]

mod common;

use common::*;
use serde_json::Value;
use slick_queue::layout::{Geometry, INIT_INITIALIZING};
use slick_queue::{ByteQueue, Options, Queue, SharedCursor};
use testkit::hex;

fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}"))
}

fn json_lines(out: &str) -> Vec<Value> {
    out.lines().map(json).collect()
}

fn entry<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array().unwrap().iter().find(|e| e["name"] == name).unwrap_or_else(|| panic!("{name} not listed"))
}

fn my_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").unwrap().uid()
}

fn mode_of(name: &Name) -> String {
    use std::os::unix::fs::MetadataExt;
    format!("{:04o}", std::fs::metadata(name.path()).unwrap().mode() & 0o7777)
}

/// A library queue whose header then claims init_state 2 (a creator that died mid-way).
fn half_initialised(name: &Name) {
    ByteQueue::create_or_open(name.as_str(), 16, 8, &Options::new()).unwrap();
    poke(name, 48, &INIT_INITIALIZING.to_le_bytes());
}

/// A file that holds a valid ready header for 1024 x 64-byte elements but only 4096 bytes.
fn truncated(name: &Name) {
    let src = Name::new("truncsrc");
    ByteQueue::create_or_open(src.as_str(), 1024, 64, &Options::new()).unwrap();
    let mut bytes = std::fs::read(src.path()).unwrap();
    bytes.truncate(4096);
    std::fs::write(name.path(), bytes).unwrap();
}

// ---------------------------------------------------------------- ls

#[test]
fn ls_lists_library_and_peer_queues_with_their_geometry() {
    if !peer_enabled() {
        return;
    }
    let rs = Name::new("ls_rs");
    let py = Name::new("ls_py");
    let foreign = Name::new("ls_foreign");
    let q = ByteQueue::create_or_open(rs.as_str(), 64, 16, &Options::new().items_per_slot(4).read_last(false)).unwrap();
    q.push(b"a").unwrap();
    q.push(&[7u8; 40]).unwrap(); // 3 elements, rounded up to 4 by items_per_slot
    peer("create", py.as_str(), &["--size", "32", "--es", "24"]);
    peer("publish", py.as_str(), &["--es", "24", "--record", "01", "--record", "0203", "--record", "04"]);
    std::fs::write(foreign.path(), vec![0xAB; 256]).unwrap();

    let table = ok(&slickq(&["ls"]));
    assert!(table.lines().next().unwrap().starts_with("NAME"), "no header line:\n{table}");
    let rs_len = Geometry::new(64, 16, 4).unwrap().segment_len().to_string();
    let py_len = std::fs::metadata(py.path()).unwrap().len().to_string();
    let owner = if my_uid() == 0 { "root".to_owned() } else { ls_row(&table, rs.as_str()).unwrap()[9].clone() };
    assert_eq!(
        ls_row(&table, rs.as_str()).unwrap(),
        // PIDS: this test process maps the library queue (q is alive); the
        // peer that made the other one has exited.
        [
            rs.as_str(),
            "ok",
            "64",
            "16",
            "4",
            "items_per_slot",
            "8",
            "none",
            &mode_of(&rs),
            &owner,
            &rs_len,
            &std::process::id().to_string()
        ]
    );
    assert_eq!(
        ls_row(&table, py.as_str()).unwrap(),
        [py.as_str(), "ok", "32", "24", "1", "read_last", "3", "2", &mode_of(&py), &owner, &py_len, "-"]
    );
    assert!(ls_row(&table, foreign.as_str()).is_none(), "a foreign object is listed without --all");

    let all = ok(&slickq(&["ls", "--all"]));
    let row = ls_row(&all, foreign.as_str()).expect("--all lists the foreign object");
    assert_eq!(row[1], "foreign");
    assert!(all.lines().any(|l| l.starts_with(&format!("{}: no layout marker", foreign.name))), "{all}");

    let list = json(&ok(&slickq(&["ls", "--json"])));
    let e = entry(&list, rs.as_str());
    assert_eq!(e["status"], "ok");
    assert_eq!(e["stale"], false);
    assert_eq!(e["is_queue"], true);
    assert_eq!(e["bytes"], Geometry::new(64, 16, 4).unwrap().segment_len() as u64);
    assert_eq!(e["uid"], my_uid());
    assert_eq!(e["header"]["magic"], "0x534C5132");
    assert_eq!(e["header"]["marker"], "SLQ2");
    assert_eq!(e["header"]["capacity"], 64);
    assert_eq!(e["header"]["element_size"], 16);
    assert_eq!(e["header"]["items_per_slot"], 4);
    assert_eq!(e["header"]["write_index"], 8);
    assert_eq!(e["header"]["last_published"], Value::Null);
    assert_eq!(e["header"]["slot_count"], 16);
    let e = entry(&list, py.as_str());
    assert_eq!(e["header"]["features"], serde_json::json!(["read_last"]));
    assert_eq!(e["header"]["init_state"], 3);
    assert_eq!(e["header"]["init_state_name"], "ready");
    assert_eq!(e["header"]["last_published"], 2);
    assert!(list.as_array().unwrap().iter().all(|e| e["name"] != foreign.as_str()));
    let all = json(&ok(&slickq(&["ls", "--all", "--json"])));
    assert_eq!(entry(&all, foreign.as_str())["status"], "foreign");
    assert_eq!(entry(&all, foreign.as_str())["is_queue"], false);
}

#[test]
fn ls_flags_half_initialised_truncated_and_stale_queues() {
    let old_half = Name::new("lsf_oldhalf");
    let new_half = Name::new("lsf_newhalf");
    let old_trunc = Name::new("lsf_oldtrunc");
    let healthy_old = Name::new("lsf_healthy");
    half_initialised(&old_half);
    age(&old_half, 3600);
    half_initialised(&new_half);
    truncated(&old_trunc);
    age(&old_trunc, 3600);
    Queue::<u64>::create_or_open(healthy_old.as_str(), 8, &Options::new()).unwrap();
    age(&healthy_old, 3600);

    let table = ok(&slickq(&["ls", "--grace", "60s"]));
    assert_eq!(ls_row(&table, old_half.as_str()).unwrap()[1], "initializing,stale");
    assert_eq!(ls_row(&table, new_half.as_str()).unwrap()[1], "initializing");
    assert_eq!(ls_row(&table, old_trunc.as_str()).unwrap()[1], "truncated,stale");
    assert_eq!(ls_row(&table, healthy_old.as_str()).unwrap()[1], "ok");
    let note = table.lines().find(|l| l.starts_with(&format!("{}: ", old_trunc.name))).unwrap();
    assert!(note.contains("4096 bytes long but its geometry needs") && note.contains("stale"), "{note}");

    let list = json(&ok(&slickq(&["ls", "--json", "--grace", "0s"])));
    assert_eq!(entry(&list, new_half.as_str())["stale"], true, "a zero grace makes every half-initialised queue stale");
    assert_eq!(entry(&list, new_half.as_str())["header"]["init_state"], 2);
    assert_eq!(entry(&list, healthy_old.as_str())["stale"], false);
    assert_eq!(entry(&list, old_trunc.as_str())["status"], "truncated");
}

// ---------------------------------------------------------------- inspect

#[test]
fn inspect_decodes_a_peer_queue_with_a_wrap_marker_without_touching_it() {
    if !peer_enabled() {
        return;
    }
    let py = Name::new("insp_py");
    peer("create", py.as_str(), &["--size", "8", "--es", "16"]);
    // six 1-element records (indices 0..5), then a 4-element record: it does
    // not fit in positions 6..7, so it wraps to index 8 and leaves a wrap
    // marker in slot 6.
    let six: Vec<String> = (0..6u8).map(|i| hex(&[i + 1])).collect();
    let mut args = vec!["--es", "16"];
    args.extend(six.iter().flat_map(|r| ["--record", r.as_str()]));
    peer("publish", py.as_str(), &args);
    peer("publish", py.as_str(), &["--es", "16", "--record", &hex(&[9u8; 64])]);
    let before = std::fs::read(py.path()).unwrap();

    let text = ok(&slickq(&["inspect", py.as_str(), "--slots", "3"]));
    let lines: Vec<&str> = text.lines().collect();
    let expect_prefix = [
        format!("name            /{}  (/dev/shm/{})", py.name, py.name),
        "status          ok".to_owned(),
        format!("object          {} bytes, mode {}", before.len(), mode_of(&py)),
        "magic           0x534C5131 \"SLQ1\" (features: read_last)".to_owned(),
        "init_state      3 (ready)".to_owned(),
        "capacity        8 elements".to_owned(),
        "element_size    16 bytes".to_owned(),
        "items_per_slot  1".to_owned(),
        "slot_count      8".to_owned(),
        format!("data_offset     {}", 64 + 16 * 8),
        format!("needed_bytes    {}", 64 + 16 * 8 + 8 * 16),
        "reserved        0x00000000000c0004 (write index 12, last reservation 4 element(s))".to_owned(),
        "write_index     12".to_owned(),
        "last_published  8".to_owned(),
        "attached        none".to_owned(),
        // only the peer has attached: it never creates a doorbell
        "sleeping        - (no doorbell object".to_owned(),
        "control slots (first 3 of 8):".to_owned(),
        "  slot      0: record at index 8, 4 element(s)".to_owned(),
        "  slot      1: record at index 1, 1 element(s)".to_owned(),
        "  slot      2: record at index 2, 1 element(s)".to_owned(),
        "control slots (last 3 of 8):".to_owned(),
        "  slot      5: record at index 5, 1 element(s)".to_owned(),
        "  slot      6: wrap marker: readers jump to index 8 (4 element(s))".to_owned(),
        "  slot      7: empty (size 1)".to_owned(),
    ];
    assert_eq!(lines.len(), expect_prefix.len(), "{text}");
    for (got, want) in lines.iter().zip(&expect_prefix) {
        assert!(got.starts_with(want.as_str()), "line {got:?} does not start with {want:?}");
    }

    let j = json(&ok(&slickq(&["inspect", &format!("/{}", py.name), "--json", "--slots", "2"])));
    assert_eq!(j["name"], py.as_str());
    assert_eq!(j["status"], "ok");
    assert_eq!(j["header"]["write_index"], 12);
    assert_eq!(j["header"]["reserved"], 12u64 << 16 | 4);
    assert_eq!(j["slots_first"][0], serde_json::json!({"slot": 0, "data_index": 8, "size": 4, "kind": "record"}));
    assert_eq!(j["slots_last"][0], serde_json::json!({"slot": 6, "data_index": 8, "size": 4, "kind": "wrap_marker"}));
    assert_eq!(j["slots_last"][1], serde_json::json!({"slot": 7, "data_index": null, "size": 1, "kind": "empty"}));

    assert_eq!(std::fs::read(py.path()).unwrap(), before, "inspect modified the segment");
}

#[test]
fn inspect_shows_a_half_initialised_queue() {
    let half = Name::new("insp_half");
    half_initialised(&half);
    let text = ok(&slickq(&["inspect", half.as_str()]));
    assert!(text.lines().any(|l| l.starts_with("status          initializing: init_state 2")), "{text}");
    assert!(text.lines().any(|l| l == "init_state      2 (initializing)"), "{text}");
}

#[test]
fn reading_a_stale_half_initialised_queue_fails_with_a_remedy() {
    let half = Name::new("read_half");
    half_initialised(&half);
    age(&half, 3600);
    for cmd in ["tail", "consume", "stat", "produce"] {
        let o = slickq(&[cmd, half.as_str()]);
        fails_with(&o, 1, "its creator probably died");
        assert!(stderr(&o).contains(&format!("`slickq rm {}`", half.name)), "{}", stderr(&o));
    }
    // A young one is waited for (the attach's 2 s init timeout), then reported.
    let young = Name::new("read_young");
    half_initialised(&young);
    fails_with(&slickq(&["tail", young.as_str()]), 1, "timed out");
}

#[test]
fn bad_names_missing_and_foreign_objects_give_clear_errors() {
    let foreign = Name::new("err_foreign");
    let short = Name::new("err_short");
    let missing = Name::new("err_missing");
    let mut junk = vec![0x5Au8; 128];
    junk[48..52].copy_from_slice(&3u32.to_le_bytes()); // "ready", but no marker
    std::fs::write(foreign.path(), &junk).unwrap();
    std::fs::write(short.path(), b"abc").unwrap();
    let m = missing.as_str();
    let f = foreign.as_str();
    let s = short.as_str();
    let not_a_queue = "is not a slick-queue queue";
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["inspect", m], "does not exist"),
        (vec!["inspect", "a/b"], "invalid shared-memory name \"a/b\""),
        (vec!["inspect", ""], "the name is empty"),
        (vec!["inspect", f], not_a_queue),
        (vec!["inspect", s], not_a_queue),
        (vec!["tail", m], "does not exist"),
        (vec!["tail", f], not_a_queue),
        (vec!["tail", "x/y", "--follow"], "invalid shared-memory name"),
        (vec!["stat", m, "-n", "1"], "does not exist"),
        (vec!["stat", f, "-n", "1"], not_a_queue),
        (vec!["consume", m], "does not exist"),
        (vec!["consume", f, "-n", "1"], not_a_queue),
        (vec!["produce", m], "does not exist"),
        (vec!["produce", f], not_a_queue),
        (vec!["rm", m], "does not exist"),
        (vec!["rm", f], "add --force"),
        (vec!["rm", "../etc"], "invalid shared-memory name"),
    ];
    for (args, needle) in cases {
        let o = slickq(&args);
        fails_with(&o, 1, needle);
        assert!(o.stdout.is_empty(), "{args:?} printed on stdout: {}", stdout(&o));
        assert!(stderr(&o).starts_with("slickq"), "{args:?}: {}", stderr(&o));
    }
    assert!(foreign.exists() && short.exists(), "a failed command removed an object");
}

#[test]
fn permission_problems_give_clear_errors() {
    let q = Name::new("perm");
    Queue::<u64>::create_or_open(q.as_str(), 8, &Options::new().mode(0o600)).unwrap();
    let run = |args: &[&str]| -> std::process::Output {
        if my_uid() == 0 {
            // root reads everything: run the tool as `nobody` instead.
            std::process::Command::new("setpriv")
                .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
                .args(args)
                .output()
                .expect("setpriv (util-linux) is needed to test permissions as root")
        } else {
            std::fs::set_permissions(q.path(), std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
            slickq(args)
        }
    };
    fails_with(&run(&["inspect", q.as_str()]), 1, "permission denied");
    fails_with(&run(&["tail", q.as_str()]), 1, "permission denied");
    let o = run(&["ls"]);
    assert!(o.status.success());
    assert!(ls_row(&stdout(&o), q.as_str()).is_none());
    assert!(stderr(&o).contains("could not be read (permission denied)"), "{}", stderr(&o));
    let all = stdout(&run(&["ls", "--all"]));
    assert_eq!(ls_row(&all, q.as_str()).unwrap()[1], "unreadable");
}

// ---------------------------------------------------------------- tail

#[test]
fn tail_prints_records_in_every_format() {
    let n = Name::new("tail_fmt");
    let q = ByteQueue::create_or_open(n.as_str(), 16, 8, &Options::new()).unwrap();
    q.push(b"hello").unwrap();
    q.push(&[1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]).unwrap();
    q.push("héllo wörld".as_bytes()).unwrap();

    let utf8 = ok(&slickq(&["tail", n.as_str(), "--from-start", "--format", "utf8"]));
    assert_eq!(
        utf8.lines().collect::<Vec<_>>(),
        [
            "index=0 elements=1 bytes=8 utf8=\"hello\"",
            "index=1 elements=2 bytes=16 utf8=\"\\u{1}\\0\\0\\0\\0\\0\\0\\0\\u{2}\"",
            "index=3 elements=2 bytes=16 utf8=\"héllo wörld\"",
        ]
    );
    let hexed = ok(&slickq(&["tail", n.as_str(), "--from-start", "--max-bytes", "4"]));
    assert_eq!(
        hexed.lines().collect::<Vec<_>>(),
        [
            "index=0 elements=1 bytes=8 hex=68656c6c (+4 bytes)",
            "index=1 elements=2 bytes=16 hex=01000000 (+12 bytes)",
            "index=3 elements=2 bytes=16 hex=68c3a96c (+12 bytes)",
        ]
    );
    let words = ok(&slickq(&["tail", n.as_str(), "--from-start", "--format", "u64", "-n", "2"]));
    assert_eq!(
        words.lines().collect::<Vec<_>>(),
        ["index=0 elements=1 bytes=8 u64=478560413032", "index=1 elements=2 bytes=16 u64=1,2"]
    );
    let raw = slickq(&["tail", n.as_str(), "--from-start", "--format", "raw"]);
    let mut want = b"hello\0\0\0".to_vec();
    want.extend([1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]);
    want.extend("héllo wörld\0\0\0".as_bytes()); // 13 bytes in two 8-byte elements
    assert!(raw.status.success());
    assert_eq!(raw.stdout, want);
    // Without --from-start: the last published record only.
    let last = ok(&slickq(&["tail", n.as_str(), "--format", "utf8"]));
    assert_eq!(last.lines().collect::<Vec<_>>(), ["index=3 elements=2 bytes=16 utf8=\"héllo wörld\""]);

    let events = json_lines(&ok(&slickq(&["tail", n.as_str(), "--from-start", "--json"])));
    assert_eq!(events.len(), 3);
    assert_eq!(
        events[0],
        serde_json::json!({"event": "record", "index": 0, "elements": 1, "bytes": 8,
                           "hex": "68656c6c6f000000", "utf8": "hello", "overwritten": false})
    );
    assert_eq!(events[2]["utf8"], "héllo wörld");
}

#[test]
fn tail_reports_records_lost_to_a_lapping_producer() {
    let n = Name::new("tail_loss");
    let q = Queue::<u64>::create_or_open(n.as_str(), 4, &Options::new()).unwrap();
    for v in 0..10u64 {
        q.push(v * 100).unwrap();
    }
    let out = ok(&slickq(&["tail", n.as_str(), "--from-start", "--format", "u64"]));
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "lost 6 elements before index 6",
            "index=6 elements=1 bytes=8 u64=600",
            "index=7 elements=1 bytes=8 u64=700",
            "index=8 elements=1 bytes=8 u64=800",
            "index=9 elements=1 bytes=8 u64=900",
        ]
    );
    let events = json_lines(&ok(&slickq(&["tail", n.as_str(), "--from-start", "--json"])));
    assert_eq!(events[0], serde_json::json!({"event": "loss", "lost_elements": 6, "before_index": 6}));
    assert_eq!(events.len(), 5);
}

#[test]
fn from_start_finds_the_oldest_record_of_a_lapped_items_per_slot_queue() {
    let n = Name::new("tail_ips");
    // 16 elements, 4 per slot: each one-element record takes 4 positions.
    let q = Queue::<u64>::create_or_open(n.as_str(), 16, &Options::new().items_per_slot(4)).unwrap();
    for v in 0..7u64 {
        q.push(v).unwrap();
    }
    // Records at 0, 4, ..., 24; the write index is 28, so 12..24 survive.
    let out = ok(&slickq(&["tail", n.as_str(), "--from-start", "--format", "u64"]));
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "lost 12 elements before index 12",
            "index=12 elements=1 bytes=8 u64=3",
            "index=16 elements=1 bytes=8 u64=4",
            "index=20 elements=1 bytes=8 u64=5",
            "index=24 elements=1 bytes=8 u64=6",
        ]
    );
    let o = slickq(&["consume", n.as_str(), "--from-start", "--raw", "--idle-timeout", "100ms"]);
    let words: Vec<u64> = o.stdout.chunks(8).map(|c| u64::from_le_bytes(c.try_into().unwrap())).collect();
    assert_eq!(words, [3, 4, 5, 6]);
    assert!(stderr(&o).contains("lost 12 elements before index 12"), "{}", stderr(&o));
}

#[test]
fn tail_follow_sees_records_published_by_another_process() {
    if !peer_enabled() {
        return;
    }
    let n = Name::new("tail_follow");
    peer("create", n.as_str(), &["--size", "64", "--es", "32"]);
    peer("publish", n.as_str(), &["--es", "32", "--record", &hex(b"before")]);
    let tail =
        Running::start(&["tail", n.as_str(), "--follow", "--format", "utf8", "--count", "3", "--max-bytes", "64"]);
    // It starts with the last published record...
    assert_eq!(tail.line(), "index=0 elements=1 bytes=32 utf8=\"before\"");
    assert!(tail.err_line().starts_with(&format!("slickq: following /{} from index 0", n.name)));
    // ...and then shows what another process publishes while it runs.
    peer("publish", n.as_str(), &["--es", "32", "--record", &hex(b"first")]);
    assert_eq!(tail.line(), "index=1 elements=1 bytes=32 utf8=\"first\"");
    peer("publish", n.as_str(), &["--es", "32", "--record", &hex(&[b'x'; 40])]);
    assert_eq!(tail.line(), format!("index=2 elements=2 bytes=64 utf8=\"{}\"", "x".repeat(40)));
    let (status, rest) = tail.finish();
    assert!(status.success(), "{status}");
    assert!(rest.is_empty(), "{rest:?}");
}

#[test]
fn tail_follow_stops_after_the_idle_timeout() {
    let n = Name::new("tail_idle");
    Queue::<u64>::create_or_open(n.as_str(), 8, &Options::new()).unwrap();
    let o = slickq(&["tail", n.as_str(), "-f", "--idle-timeout", "300ms"]);
    assert_eq!(ok(&o), "");
}

// ---------------------------------------------------------------- stat

#[test]
fn stat_counts_records_published_while_it_runs_and_a_cursor_lag() {
    if !peer_enabled() {
        return;
    }
    let n = Name::new("stat_q");
    let c = Name::new("stat_cur");
    peer("create", n.as_str(), &["--size", "1024", "--es", "16"]);
    let cursor = SharedCursor::create_or_open(c.as_str(), &Options::new()).unwrap();
    cursor.store(2, std::sync::atomic::Ordering::Release);

    let stat = Running::start(&["stat", n.as_str(), "--interval", "200ms", "--json", "--cursor", c.as_str()]);
    let first = json(&stat.line());
    assert_eq!(first["write_index"], 0);
    assert_eq!(first["lag"], 0, "a cursor ahead of the write index has no lag");
    // stat is sampling: publish 5 one-element records and one of 3 elements.
    let recs = [hex(b"a"), hex(b"b"), hex(b"c"), hex(b"d"), hex(b"e"), hex(&[1u8; 40])];
    let mut args = vec!["--es", "16"];
    args.extend(recs.iter().flat_map(|r| ["--record", r.as_str()]));
    peer("publish", n.as_str(), &args);
    let (mut records, mut bytes) = (0.0, 0.0);
    let last = loop {
        let s = json(&stat.line());
        records += s["records"].as_f64().unwrap();
        bytes += s["bytes_per_sec"].as_f64().unwrap() * s["seconds"].as_f64().unwrap();
        assert_eq!(s["capacity"], 1024);
        assert_eq!(s["unseen_elements"], 0);
        if s["write_index"] == 8 && records >= 6.0 {
            break s;
        }
    };
    assert_eq!(records, 6.0);
    assert!((bytes - 8.0 * 16.0).abs() < 1e-6, "bytes counted: {bytes}");
    assert_eq!(last["cursor"], 2);
    assert_eq!(last["lag"], 6);
    assert!((last["lag_ratio"].as_f64().unwrap() - 6.0 / 1024.0).abs() < 1e-12);
    drop(stat);

    let text = ok(&slickq(&["stat", n.as_str(), "--interval", "100ms", "-n", "2", "--cursor-value", "3"]));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["TIME", "RECORDS/S", "BYTES/S", "ELEMENTS/S", "WRITE_IDX", "LAG"]
    );
    for l in &lines[1..] {
        let cols: Vec<&str> = l.split_whitespace().collect();
        assert_eq!(&cols[1..], ["0", "0", "B/s", "0", "8", "5", "(0.5%)"], "{l}");
    }
}

#[test]
fn stat_rejects_a_bad_cursor_object() {
    let n = Name::new("statbad_q");
    let c = Name::new("statbad_c");
    Queue::<u64>::create_or_open(n.as_str(), 8, &Options::new()).unwrap();
    std::fs::write(c.path(), b"abc").unwrap();
    fails_with(&slickq(&["stat", n.as_str(), "-n", "1", "--cursor", c.as_str()]), 1, "only 3 bytes long");
    fails_with(&slickq(&["stat", n.as_str(), "-n", "1", "--cursor", "nope/x"]), 1, "invalid shared-memory name");
    fails_with(&slickq(&["stat", n.as_str(), "--interval", "soon"]), 2, "is not a duration");
}

// ---------------------------------------------------------------- produce / consume

#[test]
fn produce_lines_into_new_and_peer_queues_read_back_by_the_peer() {
    if !peer_enabled() {
        return;
    }
    let n = Name::new("prod_new");
    let input = "alpha\nthis line is longer than one element\n\nlast line without newline";
    let o = slickq_stdin(&["produce", n.as_str(), "--create", "64", "--element-size", "8"], input.as_bytes());
    ok(&o);
    let total: usize = input.split('\n').map(str::len).sum();
    assert!(stderr(&o).contains(&format!("published 4 records ({total} B) to /{}", n.name)), "{}", stderr(&o));
    let read = peer("dump", n.as_str(), &["--es", "8"]);
    let mut want = Vec::new();
    let mut index = 0;
    for line in input.split('\n') {
        let elements = line.len().div_ceil(8).max(1);
        let mut padded = line.as_bytes().to_vec();
        padded.resize(elements * 8, 0);
        want.push(format!("{index} {elements} {}", hex(&padded)));
        index += elements;
    }
    assert_eq!(read.lines().collect::<Vec<_>>(), want);
    assert_eq!(mode_of(&n), "0600");

    // Into a queue the peer created, and back out with consume.
    let p = Name::new("prod_peer");
    peer("create", p.as_str(), &["--size", "16", "--es", "32"]);
    ok(&slickq_stdin(&["produce", p.as_str()], b"one\r\ntwo\n"));
    let out = ok(&slickq(&["consume", p.as_str(), "--from-start", "--idle-timeout", "200ms"]));
    assert_eq!(out, "one\ntwo\n");
}

#[test]
fn produce_fixed_size_records_and_consume_them_raw() {
    let n = Name::new("prod_fixed");
    let data: Vec<u8> = (0..48u8).collect();
    let o = slickq_stdin(
        &["produce", n.as_str(), "--create", "32", "--element-size", "16", "--mode", "640", "--record-size", "16"],
        &data,
    );
    ok(&o);
    assert_eq!(mode_of(&n), "0640");
    let raw = slickq(&["consume", n.as_str(), "--from-start", "--raw", "-n", "3"]);
    assert_eq!(raw.stdout, data);
    // A trailing partial record is refused; the whole ones before it go in.
    let o = slickq_stdin(&["produce", n.as_str(), "--record-size", "16"], &[7u8; 20]);
    fails_with(&o, 1, "input ended with 4 bytes, not a whole record of 16 bytes");
    let q = ByteQueue::open(n.as_str(), 16, &Options::new()).unwrap();
    assert_eq!(q.initial_reading_index(), 4);
}

#[test]
fn produce_refuses_what_does_not_fit() {
    let n = Name::new("prod_err");
    Queue::<u64>::create_or_open(n.as_str(), 4, &Options::new()).unwrap();
    fails_with(&slickq_stdin(&["produce", n.as_str()], &[b'z'; 33]), 1, "the largest record queue");
    fails_with(&slickq_stdin(&["produce", n.as_str(), "--element-size", "16"], b"x\n"), 1, "has 8-byte elements");
    fails_with(
        &slickq_stdin(&["produce", n.as_str(), "--create", "4", "--element-size", "16"], b"x\n"),
        1,
        "element_size mismatch",
    );
    fails_with(
        &slickq_stdin(&["produce", n.as_str(), "--create", "3", "--element-size", "8"], b"x\n"),
        1,
        "power of two",
    );
    fails_with(&slickq_stdin(&["produce", n.as_str(), "--create", "4"], b""), 2, "--element-size");
    let q = Queue::<u64>::open(n.as_str(), &Options::new()).unwrap();
    assert_eq!(q.initial_reading_index(), 0, "a refused input published something");
}

#[test]
fn consume_sees_records_published_by_another_process_while_it_runs() {
    if !peer_enabled() {
        return;
    }
    let n = Name::new("cons_live");
    peer("create", n.as_str(), &["--size", "64", "--es", "16"]);
    peer("publish", n.as_str(), &["--es", "16", "--record", &hex(b"old")]);
    // By default consume starts with the next record to be published.
    let c = Running::start(&["consume", n.as_str(), "--count", "2", "--verbose"]);
    assert_eq!(c.err_line(), format!("slickq: consuming /{} from index 1", n.name));
    peer("publish", n.as_str(), &["--es", "16", "--record", &hex(b"new one")]);
    assert_eq!(c.line(), "new one");
    peer("publish", n.as_str(), &["--es", "16", "--record", &hex(b"a record of more than sixteen bytes")]);
    assert_eq!(c.line(), "a record of more than sixteen bytes");
    let (status, rest) = c.finish();
    assert!(status.success());
    assert!(rest.is_empty(), "{rest:?}");
}

#[test]
fn consumers_sharing_a_cursor_split_the_records() {
    if !peer_enabled() {
        return;
    }
    let n = Name::new("cons_shared");
    let cur = Name::new("cons_cursor");
    peer("create", n.as_str(), &["--size", "256", "--es", "8"]);
    let recs: Vec<String> = (0..40).map(|i| hex(format!("r{i}").as_bytes())).collect();
    let mut args = vec!["--es", "8"];
    args.extend(recs.iter().flat_map(|r| ["--record", r.as_str()]));
    peer("publish", n.as_str(), &args);
    let a = Running::start(&["consume", n.as_str(), "--shared-cursor", cur.as_str(), "--idle-timeout", "500ms"]);
    let b = Running::start(&["consume", n.as_str(), "--shared-cursor", cur.as_str(), "--idle-timeout", "500ms"]);
    let (sa, ra) = a.finish();
    let (sb, rb) = b.finish();
    assert!(sa.success() && sb.success());
    let mut all: Vec<String> = ra.into_iter().chain(rb).collect();
    all.sort();
    let mut want: Vec<String> = (0..40).map(|i| format!("r{i}")).collect();
    want.sort();
    assert_eq!(all, want, "every record exactly once across the two consumers");
    let mut word = [0u8; 8];
    std::os::unix::fs::FileExt::read_exact_at(&std::fs::File::open(cur.path()).unwrap(), &mut word, 0).unwrap();
    assert_eq!(u64::from_le_bytes(word), 40, "the shared cursor ends after the last record");
}

// ---------------------------------------------------------------- rm

#[test]
fn rm_removes_named_queues_and_refuses_foreign_objects_without_force() {
    if !peer_enabled() {
        return;
    }
    let rs = Name::new("rm_rs");
    let py = Name::new("rm_py");
    let foreign = Name::new("rm_foreign");
    Queue::<u64>::create_or_open(rs.as_str(), 8, &Options::new()).unwrap();
    peer("create", py.as_str(), &["--size", "8", "--es", "8"]);
    std::fs::write(foreign.path(), b"not a queue at all, but long enough to have a header: ................").unwrap();

    let dry = ok(&slickq(&["rm", "--dry-run", rs.as_str()]));
    assert!(dry.starts_with(&format!("would remove /{} (ok, last modified", rs.name)), "{dry}");
    assert!(rs.exists());

    let o = slickq(&["rm", rs.as_str(), &format!("/{}", py.name), foreign.as_str()]);
    fails_with(&o, 1, "add --force to remove it anyway");
    assert!(stderr(&o).contains(&format!("1 of 3 name(s) not removed: {}", foreign.name)));
    let lines: Vec<String> = stdout(&o).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].starts_with(&format!("removed /{} (ok,", rs.name)));
    assert!(lines[1].starts_with(&format!("removed /{} (ok,", py.name)));
    assert!(!rs.exists() && !py.exists() && foreign.exists());

    let o = ok(&slickq(&["rm", "--force", foreign.as_str()]));
    assert!(o.starts_with(&format!("removed /{} (foreign", foreign.name)));
    assert!(!foreign.exists());
    fails_with(&slickq(&["rm"]), 2, "required");
    fails_with(&slickq(&["rm", "--stale", rs.as_str()]), 2, "cannot be used with");
}

#[test]
fn doorbells_show_sleeping_readers_and_go_with_their_queue() {
    let n = Name::new("bell");
    let bell = Name::adopt(slick_queue::doorbell_name(n.as_str()));
    let slow = Options::new().poll_interval(std::time::Duration::from_secs(30));
    let q = std::sync::Arc::new(Queue::<u64>::create_or_open(n.as_str(), 8, &slow).unwrap());
    assert!(bell.exists(), "the library did not create the doorbell object");
    let reader = {
        let q = q.clone();
        std::thread::spawn(move || {
            let mut c = 0;
            q.read_timeout(&mut c, std::time::Duration::from_secs(60)).map(|r| r.value())
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while q.sleeping_readers() != Some(1) {
        assert!(std::time::Instant::now() < deadline, "the reader never went to sleep");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    // inspect shows the sleeper, in text and JSON
    let text = ok(&slickq(&["inspect", n.as_str()]));
    assert!(text.contains("sleeping        1 reader(s) asleep on the doorbell"), "{text}");
    let j = json(&ok(&slickq(&["inspect", n.as_str(), "--json"])));
    assert_eq!(j["sleeping_readers"], 1, "{j}");
    // ls lists queues only; --all shows the doorbell as what it is
    let ls = json(&ok(&slickq(&["ls", "--json"])));
    assert!(ls.as_array().unwrap().iter().all(|e| e["name"] != bell.name.as_str()), "ls lists a doorbell as a queue");
    assert_eq!(entry(&ls, n.as_str())["sleeping_readers"], 1);
    let all = json(&ok(&slickq(&["ls", "--all", "--json"])));
    let e = entry(&all, bell.as_str());
    assert_eq!(e["status"], "doorbell");
    assert_eq!(e["is_queue"], false);
    assert_eq!(e["stale"], false);
    fails_with(&slickq(&["tail", bell.as_str()]), 1, "is not a queue");

    q.push(9).unwrap();
    assert_eq!(reader.join().unwrap(), Some(9));
    assert_eq!(json(&ok(&slickq(&["inspect", n.as_str(), "--json"])))["sleeping_readers"], 0);

    // rm takes the doorbell with the queue
    let out = ok(&slickq(&["rm", n.as_str()]));
    assert!(out.starts_with(&format!("removed /{} (ok", n.name)), "{out}");
    assert!(!n.exists() && !bell.exists(), "rm left the doorbell behind");
    drop(q);

    // a doorbell whose queue was removed by other means is stale after the grace period
    Queue::<u64>::create_or_open(n.as_str(), 8, &Options::new()).unwrap();
    std::fs::remove_file(n.path()).unwrap();
    age(&bell, 3600);
    let out = ok(&slickq(&["rm", "--stale", "--prefix", n.as_str()]));
    assert!(out.starts_with(&format!("removed /{} (doorbell", bell.name)), "{out}");
    assert!(!bell.exists());
}

#[test]
fn rm_stale_removes_only_old_half_initialised_and_truncated_queues() {
    if !peer_enabled() {
        return;
    }
    let old_half = Name::new("rms_oldhalf");
    let new_half = Name::new("rms_newhalf");
    let old_trunc = Name::new("rms_oldtrunc");
    let healthy_old = Name::new("rms_healthy");
    let peer_old = Name::new("rms_peer");
    let foreign_old = Name::new("rms_foreign");
    let empty_old = Name::new("rms_empty");
    half_initialised(&old_half);
    age(&old_half, 3600);
    half_initialised(&new_half);
    truncated(&old_trunc);
    age(&old_trunc, 3600);
    Queue::<u64>::create_or_open(healthy_old.as_str(), 8, &Options::new()).unwrap();
    age(&healthy_old, 3600);
    peer("create", peer_old.as_str(), &["--size", "8", "--es", "8"]);
    age(&peer_old, 3600);
    // Looks like a claimed-but-unwritten header, but carries no marker.
    let mut zeros = vec![0u8; 256];
    zeros[48..52].copy_from_slice(&INIT_INITIALIZING.to_le_bytes());
    std::fs::write(foreign_old.path(), zeros).unwrap();
    age(&foreign_old, 3600);
    std::fs::write(empty_old.path(), b"").unwrap();
    age(&empty_old, 3600);
    let prefix = Name::prefix("rms_");

    // A dry run over the whole machine names ours (and removes nothing).
    let dry = ok(&slickq(&["rm", "--stale", "--dry-run"]));
    let would: Vec<&str> = dry.lines().filter(|l| l.contains(&prefix)).collect();
    // The 0-byte object is stale too: a creator that died before sizing it.
    assert_eq!(would.len(), 3, "{dry}");
    assert!(would[0].starts_with(&format!("would remove /{} (short, last modified 36", empty_old.name)), "{dry}");
    assert!(would[1].starts_with(&format!("would remove /{} (initializing, last modified 36", old_half.name)), "{dry}");
    assert!(would[2].starts_with(&format!("would remove /{} (truncated, last modified 36", old_trunc.name)), "{dry}");
    assert!(old_half.exists() && old_trunc.exists() && empty_old.exists());

    let out = ok(&slickq(&["rm", "--stale", "--prefix", &prefix]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].starts_with(&format!("removed /{} (short", empty_old.name)));
    assert!(lines[1].starts_with(&format!("removed /{} (initializing", old_half.name)));
    assert!(lines[2].starts_with(&format!("removed /{} (truncated", old_trunc.name)));
    assert!(!old_half.exists() && !old_trunc.exists() && !empty_old.exists());
    for kept in [&new_half, &healthy_old, &peer_old, &foreign_old] {
        assert!(kept.exists(), "{} was removed", kept.name);
    }
    // A shorter grace catches the young one too; nothing is left after that.
    let out = ok(&slickq(&["rm", "--stale", "--grace", "0s", "--prefix", &prefix]));
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(!new_half.exists());
    assert_eq!(ok(&slickq(&["rm", "--stale", "--prefix", &prefix])), "no stale queues\n");
}

// ---------------------------------------------------------------- bench, help

#[test]
fn bench_runs_and_summarises() {
    let child = std::process::Command::new(BIN)
        .args(["bench", "--records", "20000", "--pings", "300", "--capacity", "1024", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    let s = json(&ok(&out));
    assert_eq!(s["capacity"], 1024);
    let runs = s["throughput"].as_array().unwrap();
    assert_eq!(runs.iter().map(|r| r["run"].as_str().unwrap()).collect::<Vec<_>>(), ["spsc-local", "spsc-shm"]);
    for r in runs {
        assert_eq!(r["records"], 20000);
        assert_eq!(r["out_of_order"], 0);
        // The producer stays within half a ring of the consumer: nothing is lost.
        assert_eq!(r["received"], 20000);
        assert_eq!(r["lost"], 0);
        assert!(r["records_per_sec"].as_f64().unwrap() > 0.0);
    }
    let l = &s["latency"];
    assert_eq!(l["round_trips"], 300);
    let p = |k: &str| l[k].as_u64().unwrap();
    assert!(p("p50_ns") <= p("p90_ns") && p("p90_ns") <= p("p99_ns") && p("p99_ns") <= p("max_ns"));
    assert!(p("p50_ns") > 0);
    // The shared-memory run cleaned up its segment.
    let leftover = std::fs::read_dir("/dev/shm")
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| e.file_name().to_string_lossy().starts_with(&format!("slickq_bench_{pid}_")));
    assert!(!leftover, "bench left its shared-memory segment behind");
    let text = ok(&slickq(&["bench", "--records", "5000", "--pings", "100", "--capacity", "256"]));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert!(lines[0].starts_with("slickq bench: 8-byte records, capacity 256"));
    assert!(lines[1].starts_with("RUN"));
    assert!(lines[2].starts_with("spsc-local") && lines[2].split_whitespace().nth(1) == Some("5000"));
    assert!(lines[3].starts_with("spsc-shm") && lines[3].split_whitespace().nth(1) == Some("5000"));
    assert!(lines[4].starts_with("ping-pong    100 round trips: mean "), "{}", lines[4]);
    fails_with(&slickq(&["bench", "--capacity", "1000", "--records", "10"]), 1, "power of two");
}

#[test]
fn help_reads_well_and_usage_errors_exit_2() {
    let top = ok(&slickq(&["--help"]));
    for cmd in ["ls", "inspect", "tail", "stat", "produce", "consume", "rm", "bench"] {
        assert!(top.lines().any(|l| l.trim_start().starts_with(cmd)), "--help does not list {cmd}");
        let h = ok(&slickq(&[cmd, "--help"]));
        assert!(h.contains(&format!("Usage: slickq {cmd}")), "{cmd} --help:\n{h}");
        let short = ok(&slickq(&["help", cmd]));
        assert!(!short.is_empty());
    }
    fails_with(&slickq(&["tail"]), 2, "required");
    fails_with(&slickq(&["frobnicate"]), 2, "unrecognized subcommand");
    fails_with(&slickq(&["tail", "q", "--format", "octal"]), 2, "invalid value 'octal'");
    fails_with(&slickq(&["ls", "--grace", "a while"]), 2, "is not a duration");
    assert!(ok(&slickq(&["--version"])).starts_with("slickq "));
}

#[test]
fn tail_of_a_closed_pipe_ends_quietly() {
    let n = Name::new("pipe");
    let q = Queue::<u64>::create_or_open(n.as_str(), 1024, &Options::new()).unwrap();
    for v in 0..1000u64 {
        q.push(v).unwrap();
    }
    let mut child = std::process::Command::new(BIN)
        .args(["tail", n.as_str(), "--from-start", "--format", "u64"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away, like `| head -0`
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// `slickq ls --json | head -1` and `slickq inspect --json | head -1`: the
/// reader goes away after one line, and slickq ends with status 0 and says
/// nothing (a closed stdout is a normal end). The output is made larger than
/// a pipe's buffer (64 KiB) so that the writes after `head` exits really fail
/// with EPIPE, whatever the scheduling.
#[test]
fn json_output_into_head_ends_quietly_with_status_0() {
    // ls: 200 queues of our own, a few hundred bytes of JSON each.
    let names: Vec<Name> = (0..200).map(|i| Name::new(&format!("head{i}"))).collect();
    for n in &names {
        Queue::<u64>::create_or_open(n.as_str(), 2, &Options::new()).unwrap();
    }
    // inspect: every slot of a 4096-slot queue, from each end.
    let big = Name::new("headbig");
    Queue::<u64>::create_or_open(big.as_str(), 4096, &Options::new()).unwrap();
    let full = ok(&slickq(&["inspect", big.as_str(), "--slots", "4096", "--json"]));
    assert!(full.len() > 1 << 17, "inspect output is only {} bytes", full.len());
    let listed = ok(&slickq(&["ls", "--json"]));
    assert!(listed.len() > 1 << 17, "ls output is only {} bytes", listed.len());

    let inspect = format!("'{BIN}' inspect {} --slots 4096 --json", big.as_str());
    for (cmd, first_line) in [(format!("'{BIN}' ls --json"), "["), (inspect, "{")] {
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!("set -o pipefail; {cmd} | head -1"))
            .output()
            .expect("run bash");
        assert!(out.status.success(), "`{cmd} | head -1` exited {}: {}", out.status, stderr(&out));
        assert_eq!(stdout(&out).trim_end(), first_line, "`{cmd} | head -1`");
        assert!(stderr(&out).is_empty(), "`{cmd} | head -1` wrote to stderr: {}", stderr(&out));
    }
}

/// `--poll-interval` sets how often a waiting command looks by itself; an
/// interval outside 1us..1h is a usage error. A long one loses nothing:
/// `tail --follow` prints a record of a producer that rings the doorbell
/// and one of a producer that does not (as the C++ and original Python
/// peers), the latter found when its wait slice ends. (Linux: elsewhere
/// there is no doorbell to sleep on.)
#[cfg(target_os = "linux")]
#[test]
fn poll_interval_is_checked_and_a_long_one_loses_nothing() {
    use std::time::{Duration, Instant};
    for bad in ["0s", "0.5us", "2h", "soon"] {
        fails_with(&slickq(&["tail", "nosuchqueue", "--poll-interval", bad]), 2, "");
    }
    let n = Name::new("pollint");
    let q = ByteQueue::create_or_open(n.as_str(), 64, 16, &Options::new()).unwrap();
    let silent = ByteQueue::open(n.as_str(), 16, &Options::new().doorbell(false)).unwrap();
    let tail = Running::start(&["tail", n.as_str(), "--follow", "--count", "2", "--poll-interval", "1h"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let asleep = || {
        while q.sleeping_readers() != Some(1) {
            assert!(Instant::now() < deadline, "tail never went to sleep");
            std::thread::sleep(Duration::from_millis(1));
        }
    };
    asleep();
    q.push(b"rings").unwrap();
    let first = tail.line();
    assert!(first.starts_with("index=0 ") && first.contains(&hex(b"rings")), "{first}");
    // tail printed the record and waits again: this one does not ring.
    asleep();
    silent.push(b"silent").unwrap();
    let second = tail.line();
    assert!(second.starts_with("index=1 ") && second.contains(&hex(b"silent")), "{second}");
    let (status, rest) = tail.finish();
    assert!(status.success() && rest.is_empty(), "{status:?} {rest:?}");
}
