//! `slickq` on a hostile or careless host: objects planted in /dev/shm under
//! a queue's name (symbolic links, FIFOs), creation modes with special bits,
//! a full /dev/shm (in a private mount namespace), queues owned by another
//! user.

mod common;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use slick_queue::{ByteQueue, Options, Queue};

/// Runs `slickq args...` (stdin `input`), killing it after `limit`; returns
/// its output and how long it took.
fn run_within(args: &[&str], input: &[u8], limit: Duration) -> (Output, Duration) {
    use std::io::Write;
    let start = Instant::now();
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot run slickq");
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(input);
    drop(stdin);
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let took = start.elapsed();
    (child.wait_with_output().unwrap(), took)
}

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
        let (o, _) = run_within(&args, b"hello\nworld\n", Duration::from_secs(10));
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
        let (o, took) = run_within(&args, b"", Duration::from_secs(10));
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
    let as_nobody = |args: &[&str]| {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("setpriv (util-linux) is needed to test another user's queue")
    };
    fails_with(&as_nobody(&["tail", name.as_str(), "--from-start"]), 1, "owned by uid 0");
    fails_with(&as_nobody(&["consume", name.as_str(), "--idle-timeout", "10ms"]), 1, "allow_foreign_owner");
    let out = ok(&as_nobody(&["--allow-foreign-owner", "tail", name.as_str(), "--from-start"]));
    assert!(out.contains("index=0"), "{out}");
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
        let (o, took) = run_within(&args, b"", Duration::from_secs(20));
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
    let stopped = Command::new("kill").args(["-STOP", &child.id().to_string()]).status().unwrap();
    assert!(stopped.success());
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
    let prefix = format!("slickq_t{}_live_", std::process::id());

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
