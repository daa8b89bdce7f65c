//! `slickq` on a hostile or careless host: objects planted in /dev/shm under
//! a queue's name (symbolic links, FIFOs), creation modes with special bits,
//! a full /dev/shm (in a private mount namespace), queues owned by another
//! user.
//!
//! Linux only: /dev/shm, FIFOs, mount namespaces and uid switching.
#![cfg(target_os = "linux")]

mod common;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use slick_queue::{ByteQueue, Options, Queue};

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

/// A symbolic link in /dev/shm named like a queue, pointing at a
/// zero-filled file: `produce --create`, `produce`, `tail`, `consume` and
/// `inspect` all fail and the file stays all zeros.
#[test]
fn a_symlink_named_like_a_queue_is_never_written_through() {
    let name = Name::new("symlink");
    let target = std::env::temp_dir().join(format!("{}_target", name.as_str()));
    std::fs::write(&target, vec![0u8; 1 << 16]).unwrap();
    std::os::unix::fs::symlink(&target, name.path()).unwrap();
    let n = name.as_str();
    for args in [
        vec!["produce", n, "--create", "64", "--element-size", "8"],
        vec!["produce", n],
        vec!["tail", n],
        vec!["consume", n, "--idle-timeout", "100ms"],
        vec!["inspect", n],
    ] {
        let (o, _) = slickq_within(&args, b"hello\nworld\n", Duration::from_secs(10));
        fails_with(&o, 1, "");
        assert!(stderr(&o).contains("symbolic link"), "{args:?}: {}", stderr(&o));
    }
    let after = std::fs::read(&target).unwrap();
    let _ = std::fs::remove_file(&target);
    assert_eq!(after.len(), 1 << 16);
    assert!(after.iter().all(|b| *b == 0), "the link's target was written");
}

/// A FIFO named like a queue: `inspect`, `tail`, `stat`, `consume` and `rm`
/// each return an error within a second instead of blocking in open(2).
#[test]
fn a_fifo_named_like_a_queue_is_an_error_within_a_second() {
    let name = Name::new("fifo");
    let made = Command::new("mkfifo").arg(name.path()).status().expect("mkfifo (coreutils)");
    assert!(made.success());
    let n = name.as_str();
    for args in [
        vec!["inspect", n],
        vec!["tail", n],
        vec!["stat", n, "--count", "1", "--interval", "10ms"],
        vec!["consume", n, "--idle-timeout", "10ms"],
        vec!["produce", n],
        vec!["rm", n],
    ] {
        let (o, took) = slickq_within(&args, b"", Duration::from_secs(10));
        assert!(took < Duration::from_secs(1), "{args:?} took {took:?}");
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    }
    assert!(name.path().symlink_metadata().is_ok(), "rm without --force removed a FIFO that is not a queue");
}

/// `--mode` with setuid, setgid or sticky bits is a usage error that says
/// so, and creates nothing.
#[test]
fn mode_with_special_bits_is_refused() {
    let name = Name::new("suid");
    for mode in ["4777", "2770", "1777", "6600"] {
        let o =
            slickq_stdin(&["produce", name.as_str(), "--create", "64", "--element-size", "8", "--mode", mode], b"x\n");
        fails_with(&o, 2, "setuid, setgid or sticky");
        assert!(!name.exists(), "--mode {mode} created the queue");
    }
    ok(&slickq_stdin(&["produce", name.as_str(), "--create", "64", "--element-size", "8", "--mode", "660"], b"x\n"));
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(name.path()).unwrap().mode() & 0o7777, 0o660);
}

/// `produce --create` of a queue larger than a full /dev/shm (a private
/// 16 MiB tmpfs in a private mount namespace): exit status 1, a one-line
/// message, no signal, no object left. Skipped (saying why) where unshare
/// is not permitted; CI runs as root, where it is.
#[test]
fn produce_create_on_a_full_dev_shm_is_a_one_line_error() {
    match Command::new("unshare").args(["-m", "true"]).output() {
        Ok(o) if o.status.success() => {}
        other => {
            println!("skipped: `unshare -m` is not permitted here: {other:?}");
            return;
        }
    }
    let script = "mount -t tmpfs -o size=16m tmpfs /dev/shm || exit 90; \
                  printf 'a\\nb\\n' | \"$0\" produce \"$1\" --create 1M --element-size 64; code=$?; \
                  if [ -e \"/dev/shm/$1\" ]; then echo LEFT-BEHIND >&2; fi; exit $code";
    let o = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", script, BIN, "slickq_full_probe"])
        .output()
        .unwrap();
    if o.status.code() == Some(90) {
        println!("skipped: mounting a tmpfs in a private namespace failed: {}", stderr(&o));
        return;
    }
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "status {:?}, stderr {err}", o.status);
    assert_eq!(err.lines().count(), 1, "not one line: {err}");
    assert!(err.starts_with("slickq: error:") && err.contains("no space left"), "{err}");
    assert!(!err.contains("LEFT-BEHIND"), "{err}");
}

/// A queue owned by another user is refused (the owner is named) unless
/// `--allow-foreign-owner` is given. As root (CI), the tool runs as
/// `nobody` against root's 0666 queue; as another user the test says why
/// it cannot run.
#[test]
fn another_users_queue_needs_allow_foreign_owner() {
    if !is_root() {
        println!("skipped: needs root to run slickq as another user (CI runs as root)");
        return;
    }
    let name = Name::new("foreign_uid");
    let q = Queue::<u64>::create_or_open(name.as_str(), 8, &Options::new().mode(0o666)).unwrap();
    q.push(7).unwrap();
    let as_nobody = |args: &[&str]| as_nobody_in(args, b"");
    fails_with(&as_nobody_in(&["produce", name.as_str()], b"x\n"), 1, "owned by uid 0");
    fails_with(&as_nobody(&["consume", name.as_str(), "--idle-timeout", "10ms"]), 1, "allow_foreign_owner");
    let out = ok(&as_nobody(&["--allow-foreign-owner", "consume", name.as_str(), "--from-start", "--raw", "-n", "1"]));
    assert_eq!(out.as_bytes(), 7u64.to_le_bytes(), "{out}");
}

/// A static queue whose slots were overwritten with indices near 2^64
/// (each naming its own position): `tail` without `--follow` (also
/// `--from-start`) and `consume --idle-timeout` end instead of printing the
/// same slots for ever.
#[test]
fn drain_commands_end_on_corrupt_indices() {
    let name = Name::new("corrupt_idx");
    let q = Queue::<u64>::create_or_open(name.as_str(), 64, &Options::new()).unwrap();
    for i in 0..10 {
        q.push(i).unwrap();
    }
    let base = u64::MAX - 63;
    for i in 0..64u64 {
        let mut slot = [0u8; 16];
        slot[..8].copy_from_slice(&(base + i).to_le_bytes());
        slot[8..12].copy_from_slice(&1u32.to_le_bytes());
        poke(&name, 64 + 16 * i, &slot);
    }
    let n = name.as_str();
    for args in [
        vec!["tail", n],
        vec!["tail", n, "--from-start"],
        vec!["consume", n, "--idle-timeout", "200ms"],
        vec!["consume", n, "--from-start", "--idle-timeout", "200ms"],
    ] {
        let (o, took) = slickq_within(&args, b"", Duration::from_secs(20));
        assert!(o.status.code().is_some(), "{args:?} was killed after {took:?}: it did not end");
        assert!(o.stdout.len() < 1 << 16, "{args:?} printed {} bytes", o.stdout.len());
        assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    }
}

/// Starts a process (the system python3) that maps `/dev/shm/NAME`, or, for
/// a 0-byte object, only holds it open, then stops it with SIGSTOP: a
/// paused creator. Returns it once it has the object.
fn paused_holder(name: &Name) -> std::process::Child {
    let code = "import mmap, os, sys, time\n\
                f = open(sys.argv[1], 'r+b')\n\
                m = mmap.mmap(f.fileno(), 0) if os.fstat(f.fileno()).st_size else None\n\
                print('holding', flush=True)\n\
                time.sleep(600)\n";
    let mut child = Command::new("python3")
        .args(["-c", code])
        .arg(name.path())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 is needed to hold an object open");
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    assert_eq!(line.trim(), "holding");
    signal(&child, rustix::process::Signal::STOP);
    child
}

/// `rm --stale` never removes what a live process maps or holds open,
/// however old and half-initialised it looks (a paused creator), and says
/// so; `ls` and `inspect` show those processes (pid and command). 0-byte
/// objects nobody holds are stale and removed; once the holders are gone,
/// their objects are removed too.
#[test]
fn rm_stale_keeps_objects_a_live_process_has_and_ls_shows_it() {
    let mapped = Name::new("live_mapped");
    let held = Name::new("live_held");
    let empty = Name::new("live_empty");
    let half = Name::new("live_half");
    for n in [&mapped, &half] {
        ByteQueue::create_or_open(n.as_str(), 16, 8, &Options::new()).unwrap();
        poke(n, 48, &2u32.to_le_bytes()); // init_state 2: a creator that never finished
    }
    std::fs::write(held.path(), b"").unwrap();
    std::fs::write(empty.path(), b"").unwrap();
    let mut holders = [paused_holder(&mapped), paused_holder(&held)];
    for n in [&mapped, &held, &empty, &half] {
        age(n, 3600);
    }
    let pid_mapped = holders[0].id().to_string();
    let pid_held = holders[1].id().to_string();
    let prefix = Name::prefix("live_");

    let listing = ok(&slickq(&["ls", "--all"]));
    let row = ls_row(&listing, mapped.as_str()).unwrap();
    assert_eq!(row.last().unwrap(), &pid_mapped, "{listing}");
    assert_eq!(row[1], "initializing", "not stale while mapped: {listing}");
    let line_of = |name: &Name| {
        let start = format!("{}: attached: ", name.as_str());
        listing
            .lines()
            .find(|l| l.starts_with(&start))
            .unwrap_or_else(|| panic!("no {start:?} in {listing}"))
            .to_owned()
    };
    let (line_mapped, line_held) = (line_of(&mapped), line_of(&held));
    assert!(
        line_mapped.contains(&format!("pid {pid_mapped} (")) && line_mapped.contains("-c import mmap"),
        "{line_mapped}"
    );
    assert!(!line_mapped.contains("open, not mapped"), "{line_mapped}");
    assert!(line_held.contains(&format!("pid {pid_held} (")) && line_held.contains("open, not mapped"), "{line_held}");
    let inspected = ok(&slickq(&["inspect", mapped.as_str()]));
    assert!(inspected.contains(&format!("attached        pid {pid_mapped} (")), "{inspected}");

    let out = ok(&slickq(&["rm", "--stale", "--prefix", &prefix]));
    assert!(out.contains(&format!("kept /{}", mapped.as_str())) && out.contains(&pid_mapped), "{out}");
    assert!(out.contains(&format!("kept /{}", held.as_str())) && out.contains(&pid_held), "{out}");
    assert!(out.contains(&format!("removed /{}", empty.as_str())), "{out}");
    assert!(out.contains(&format!("removed /{}", half.as_str())), "{out}");
    assert!(mapped.exists() && held.exists() && !empty.exists() && !half.exists());

    for h in &mut holders {
        h.kill().unwrap();
        h.wait().unwrap();
    }
    let out = ok(&slickq(&["rm", "--stale", "--prefix", &prefix]));
    assert!(out.contains(&format!("removed /{}", mapped.as_str())), "{out}");
    assert!(out.contains(&format!("removed /{}", held.as_str())), "{out}");
    assert!(!mapped.exists() && !held.exists());
}

fn signal(child: &std::process::Child, sig: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_raw(child.id() as i32).expect("a child's pid is positive");
    rustix::process::kill_process(pid, sig).expect("kill");
}

fn sigint(child: &std::process::Child) {
    signal(child, rustix::process::Signal::INT);
}

/// Ctrl-C on `consume --shared-cursor` while a producer keeps publishing:
/// every record the consumer claimed (the cursor counts them, one element
/// each) is on its stdout when it exits (status 130); none is lost in a
/// buffer or between the claim and the write.
#[test]
fn ctrl_c_on_consume_writes_every_claimed_record() {
    use std::io::Read;
    let name = Name::new("ctrlc_q");
    let cursor = Name::new("ctrlc_c");
    let q = ByteQueue::create_or_open(name.as_str(), 1 << 16, 16, &Options::new()).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let producer = {
        let stop = stop.clone();
        let name = name.as_str().to_owned();
        std::thread::spawn(move || {
            let q = ByteQueue::open(&name, 16, &Options::new()).unwrap();
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && i < 60_000 {
                q.push(format!("r{i}").as_bytes()).unwrap();
                i += 1;
                std::thread::sleep(Duration::from_micros(50));
            }
        })
    };
    let mut child = Command::new(BIN)
        .args(["consume", name.as_str(), "--shared-cursor", cursor.as_str()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        stdout.read_to_end(&mut all).unwrap();
        all
    });
    // Let it claim a good number of records while they keep coming.
    let deadline = Instant::now() + Duration::from_secs(30);
    let claimed = || {
        std::fs::read(cursor.path())
            .ok()
            .filter(|b| b.len() == 8)
            .map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap()))
    };
    while claimed() < 2000 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    sigint(&child);
    let status = child.wait().unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    producer.join().unwrap();
    let out = reader.join().unwrap();
    assert_eq!(status.code(), Some(130), "{status:?}");
    let lines: Vec<&[u8]> = out.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
    let claimed = claimed();
    assert!(claimed >= 2000, "claimed only {claimed}");
    assert_eq!(lines.len() as u64, claimed, "records claimed but not written out");
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(*l, format!("r{i}").as_bytes());
    }
    drop(q);
}

/// `produce` reading input without newlines (`/dev/zero`) stops with an
/// error once a line is longer than the largest record, instead of
/// buffering the input until memory runs out.
#[test]
fn produce_bounds_line_length() {
    let name = Name::new("zero");
    Queue::<u64>::create_or_open(name.as_str(), 64, &Options::new()).unwrap();
    let (o, took) = slickq_within(&["produce", name.as_str(), "--input", "/dev/zero"], b"", Duration::from_secs(20));
    assert!(took < Duration::from_secs(10), "took {took:?}");
    fails_with(&o, 1, "longer than 512 bytes");
}

/// Absurd sizes for `bench` are errors, not allocation aborts.
#[test]
fn bench_refuses_absurd_sizes() {
    for (args, needle) in [
        (vec!["bench", "--capacity", "2G"], "too large"),
        (vec!["bench", "--capacity", "4096M"], "too large"),
        (vec!["bench", "--capacity", "1000"], "power of two"),
        (vec!["bench", "--pings", "100000000000"], "too many"),
    ] {
        let (o, _) = slickq_within(&args, b"", Duration::from_secs(20));
        fails_with(&o, 1, needle);
    }
}

/// Ctrl-C during `bench` removes the segment it created.
#[test]
fn ctrl_c_during_bench_removes_its_segment() {
    let mut child = Command::new(BIN)
        .args(["bench", "--records", "5000000", "--pings", "10"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let prefix = format!("slickq_bench_{}_", child.id());
    let ours = || -> Vec<String> {
        std::fs::read_dir("/dev/shm")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.starts_with(&prefix))
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while ours().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!ours().is_empty(), "the benchmark segment never appeared");
    sigint(&child);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{status:?}");
    assert!(ours().is_empty(), "left behind: {:?}", ours());
}

/// `consume --shared-cursor` refuses an object that is not an 8-byte cursor
/// (here the queue itself, whose reservation word a claim would move).
#[test]
fn shared_cursor_must_be_a_cursor_object() {
    let name = Name::new("notcursor");
    let q = Queue::<u64>::create_or_open(name.as_str(), 64, &Options::new()).unwrap();
    q.push(5).unwrap();
    let before = std::fs::read(name.path()).unwrap();
    let (o, _) = slickq_within(
        &["consume", name.as_str(), "--shared-cursor", name.as_str(), "-n", "1"],
        b"",
        Duration::from_secs(10),
    );
    fails_with(&o, 1, "not a cursor object");
    assert_eq!(std::fs::read(name.path()).unwrap(), before, "the queue was modified");
}

/// `tail --from-start` on a queue of 2^24 elements whose producers are a lap
/// ahead finds the oldest record without copying the 256 MiB control array:
/// its peak memory stays far below it (measured with getrusage by a python3
/// parent).
#[test]
fn tail_from_start_on_a_huge_queue_keeps_memory_flat() {
    let name = Name::new("huge");
    let q = match ByteQueue::create_or_open(name.as_str(), 1 << 24, 1, &Options::new()) {
        Ok(q) => q,
        Err(slick_queue::Error::NoSpace { .. }) => {
            println!("skipped: /dev/shm has no room for a 2^24-element queue (272 MiB)");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    // Producers a lap ahead: write index 2^25 in the reservation word.
    poke(&name, 0, &((1u64 << 25) << 16).to_le_bytes());
    let code = "import resource, subprocess, sys\n\
                p = subprocess.run(sys.argv[1:], capture_output=True)\n\
                print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n";
    let o = Command::new("python3").args(["-c", code, BIN, "tail", name.as_str(), "--from-start"]).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let mut f = out.split_whitespace();
    let (code, kib): (i32, u64) = (f.next().unwrap().parse().unwrap(), f.next().unwrap().parse().unwrap());
    assert_eq!(code, 0, "{out}");
    assert!(kib < 64 * 1024, "tail --from-start peaked at {kib} KiB");
    drop(q);
}

/// `rm --dry-run` says what the real `rm` would meet: as `nobody`, root's
/// queue in the sticky /dev/shm cannot be removed, and the dry run says
/// so (exit 1) instead of promising to remove it.
#[test]
fn rm_dry_run_reports_permission_problems() {
    if !is_root() {
        println!("skipped: needs root to run slickq as another user (CI runs as root)");
        return;
    }
    let name = Name::new("dry_perm");
    Queue::<u64>::create_or_open(name.as_str(), 8, &Options::new().mode(0o644)).unwrap();
    let as_nobody = |args: &[&str]| {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
            .args(args)
            .output()
            .expect("setpriv (util-linux)")
    };
    let dry = as_nobody(&["rm", "--dry-run", name.as_str()]);
    fails_with(&dry, 1, "permission denied");
    assert!(!stdout(&dry).contains("would remove"), "{}", stdout(&dry));
    fails_with(&as_nobody(&["rm", name.as_str()]), 1, "ermission denied");
    assert!(name.exists());
    assert!(ok(&slickq(&["rm", "--dry-run", name.as_str()])).contains("would remove"));
}

/// Names that could drive the terminal (control characters) or are not
/// UTF-8: `ls --all` prints them escaped (no raw control byte reaches the
/// output), and `rm` removes them by the escaped name `ls` printed (a name
/// that is not UTF-8 only with --force: it cannot be inspected as a queue).
#[test]
fn ls_escapes_names_and_rm_takes_the_escaped_name() {
    use std::os::unix::ffi::OsStrExt;
    let prefix = Name::prefix("esc");
    let ansi = format!("{prefix}_\u{1b}[31mred");
    let raw: Vec<u8> = [prefix.as_bytes(), b"_\xff\x01zz"].concat();
    let raw_path = std::path::Path::new("/dev/shm").join(std::ffi::OsStr::from_bytes(&raw));
    let ansi_path = std::path::Path::new("/dev/shm").join(&ansi);
    let q = Queue::<u64>::create_or_open(&ansi, 8, &Options::new()).unwrap();
    drop(q);
    std::fs::write(&raw_path, b"").unwrap();
    let bell_path = std::path::Path::new("/dev/shm").join(slick_queue::doorbell_name(&ansi));
    let cleanup = || {
        let _ = std::fs::remove_file(&raw_path);
        let _ = std::fs::remove_file(&ansi_path);
        let _ = std::fs::remove_file(&bell_path);
    };

    let o = slickq(&["ls", "--all"]);
    let listing = ok(&o);
    let ansi_shown = format!("{prefix}_\\x1b[31mred");
    let raw_shown = format!("{prefix}_\\xff\\x01zz");
    let clean = !o.stdout.iter().any(|b| *b == 0x1b || *b == 0x01 || *b == 0xff);
    let listed = listing.contains(&ansi_shown) && listing.contains(&raw_shown);
    if !clean || !listed {
        cleanup();
        panic!("clean={clean} listed={listed}:\n{listing}");
    }
    let removed = slickq(&["rm", &ansi_shown]);
    let refused = slickq(&["rm", &raw_shown]);
    let forced = slickq(&["rm", "--force", &raw_shown]);
    let (ansi_gone, raw_gone) = (!ansi_path.exists(), raw_path.symlink_metadata().is_err());
    // rm of the queue also removed its doorbell object.
    let bell_gone = !bell_path.exists();
    cleanup();
    assert!(ok(&removed).contains(&format!("removed /{ansi_shown}")), "{}", stdout(&removed));
    fails_with(&refused, 1, "not UTF-8");
    assert!(ok(&forced).contains(&format!("removed /{raw_shown}")), "{}", stdout(&forced));
    assert!(ansi_gone && raw_gone);
    assert!(bell_gone, "the doorbell of the removed queue is still there");
}

/// Runs `slickq args...` as `nobody` (root only) with `input` on stdin.
fn as_nobody_in(args: &[&str], input: &[u8]) -> Output {
    use std::io::Write;
    let mut child =
        spawn_piped(Command::new("setpriv").args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN]).args(args))
            .expect("setpriv (util-linux) is needed to run slickq as another user");
    let _ = child.stdin.take().unwrap().write_all(input);
    child.wait_with_output().unwrap()
}

/// The read-only commands work on a queue the user may only read (another
/// user's 0644 queue, as `nobody`; as a normal user, an own queue of mode
/// 0400): `tail` and `stat` map it read-only (copy-on-write) and see what is
/// published; the queue's bytes are unchanged.
#[test]
fn read_only_commands_work_on_a_queue_the_user_may_only_read() {
    let name = Name::new("readonly");
    let q = ByteQueue::create_or_open(name.as_str(), 64, 8, &Options::new().mode(0o644)).unwrap();
    q.push(b"hello").unwrap();
    q.push(b"world").unwrap();
    let run = |args: &[&str]| {
        if is_root() {
            as_nobody_in(args, b"")
        } else {
            std::fs::set_permissions(name.path(), std::os::unix::fs::PermissionsExt::from_mode(0o400)).unwrap();
            slickq(args)
        }
    };
    let before = std::fs::read(name.path()).unwrap();
    let out = ok(&run(&["tail", name.as_str(), "--from-start", "--format", "utf8"]));
    assert!(out.contains("hello") && out.contains("world"), "{out}");
    let out = ok(&run(&["stat", name.as_str(), "--count", "1", "--interval", "50ms"]));
    assert!(!out.is_empty());
    ok(&run(&["inspect", name.as_str()]));
    ok(&run(&["ls"]));
    // A writer still needs write permission.
    let produce = if is_root() {
        as_nobody_in(&["produce", name.as_str()], b"x\n")
    } else {
        slickq_stdin(&["produce", name.as_str()], b"x\n")
    };
    fails_with(&produce, 1, "ermission denied");
    assert_eq!(std::fs::read(name.path()).unwrap(), before, "a read-only command modified the queue");
    drop(q);
}

/// Ctrl-C on the commands that wait on a queue's doorbell (`tail
/// --follow`, `stat`; `consume` and `bridge send` are covered by their own
/// tests) while they sleep: each exits with status 130 and unregisters as a
/// sleeper on the way out (a process killed asleep would leave the count
/// one too high, and producers would ring for nobody until they noticed).
#[cfg(target_os = "linux")]
#[test]
fn ctrl_c_on_a_sleeping_command_leaves_no_sleeper_behind() {
    for (tag, args) in [("tail", &["tail", "--follow"][..]), ("stat", &["stat", "--interval", "1h"][..])] {
        let name = Name::new(&format!("bell_{tag}"));
        let q = ByteQueue::create_or_open(name.as_str(), 64, 16, &Options::new()).unwrap();
        let mut child = Command::new(BIN)
            .args([args[0], name.as_str()])
            .args(&args[1..])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while q.sleeping_readers() != Some(1) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(q.sleeping_readers(), Some(1), "{tag} never went to sleep on the doorbell");
        sigint(&child);
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(130), "{tag}: {status:?}");
        assert_eq!(q.sleeping_readers(), Some(0), "{tag} left its sleeper registration behind");
    }
}
