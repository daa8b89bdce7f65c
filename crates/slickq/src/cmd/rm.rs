//! `slickq rm`: remove named queues, or every stale one.

use std::io::Write;
use std::time::Duration;

use crate::fail::{msg, out, Result};
use crate::segments::{describe_attached, describe_open_error, kept_by_holders, lookup, scan, Segment, SHM_DIR};

/// This process's effective uid (from /proc/self/status).
fn euid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// Why unlinking `s` would be refused, as far as the directory's mode and
/// owners tell: /dev/shm is sticky, so only the object's owner, the
/// directory's owner and root may unlink it. What a dry run reports.
fn unlink_denied(s: &Segment) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let me = euid()?;
    if me == 0 {
        return None;
    }
    let dir = std::fs::metadata(SHM_DIR).ok()?;
    let may_write =
        if dir.uid() == me { dir.mode() & 0o200 != 0 } else { dir.mode() & 0o002 != 0 || dir.mode() & 0o020 != 0 };
    if !may_write {
        return Some(format!("permission denied: {SHM_DIR} is not writable by uid {me}"));
    }
    if dir.mode() & 0o1000 != 0 && s.uid != me && dir.uid() != me {
        return Some(format!(
            "permission denied: {SHM_DIR} is sticky and /{} belongs to {} (uid {}), not to uid {me}",
            s.name, s.owner, s.uid
        ));
    }
    None
}

fn describe(s: &Segment) -> String {
    let mut d = s.status.as_str().to_owned();
    if let Some(age) = s.age_secs {
        d.push_str(&format!(", last modified {age:.0}s ago"));
    }
    d
}

/// Removes the named objects: queues always, other objects only with `force`.
pub fn run_named(names: &[String], force: bool, dry_run: bool) -> Result<()> {
    let stdout = std::io::stdout();
    let mut w = stdout.lock();
    let mut failed = Vec::new();
    for name in names {
        let seg = match lookup(name, Duration::from_secs(10)) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("slickq: {e}");
                failed.push(name.as_str());
                continue;
            }
        };
        if !seg.is_queue && !force {
            eprintln!(
                "slickq: not removing {name:?}: /dev/shm/{} is not a slick-queue queue ({}: {}); \
                 add --force to remove it anyway",
                seg.name,
                seg.status.as_str(),
                seg.note.as_deref().unwrap_or("no layout marker")
            );
            failed.push(name.as_str());
            continue;
        }
        if dry_run {
            if let Some(why) = unlink_denied(&seg) {
                eprintln!("slickq: could not remove {name:?}: {why}");
                failed.push(name.as_str());
                continue;
            }
            writeln!(w, "would remove /{} ({})", seg.name, describe(&seg)).map_err(out)?;
            continue;
        }
        match slick_queue::remove(name) {
            Ok(true) => writeln!(w, "removed /{} ({})", seg.name, describe(&seg)).map_err(out)?,
            Ok(false) => writeln!(w, "/{} was already gone", seg.name).map_err(out)?,
            Err(e) => {
                eprintln!("slickq: cannot remove {name:?}: {}", describe_open_error(name, e));
                failed.push(name.as_str());
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(msg(format!("{} of {} name(s) not removed: {}", failed.len(), names.len(), failed.join(", "))))
    }
}

/// Removes every stale queue (optionally only names starting with `prefix`).
pub fn run_stale(grace: Duration, prefix: Option<&str>, dry_run: bool) -> Result<()> {
    let prefix = prefix.map(|p| p.strip_prefix('/').unwrap_or(p));
    let stdout = std::io::stdout();
    let mut w = stdout.lock();
    let mut removed = 0;
    let mut failed = 0;
    for seg in scan(grace)? {
        if prefix.is_some_and(|p| !seg.name.starts_with(p)) {
            continue;
        }
        if kept_by_holders(&seg, grace) {
            writeln!(
                w,
                "kept /{} ({}): still attached: {}",
                seg.name,
                describe(&seg),
                describe_attached(&seg.attached)
            )
            .map_err(out)?;
            continue;
        }
        if !seg.stale {
            continue;
        }
        // Look again right before unlinking: only what is still stale goes.
        let Ok(now) = lookup(&seg.name, grace) else { continue };
        if !now.stale {
            continue;
        }
        if dry_run {
            if let Some(why) = unlink_denied(&now) {
                eprintln!("slickq: could not remove /{}: {why}", now.name);
                failed += 1;
                continue;
            }
            writeln!(w, "would remove /{} ({})", now.name, describe(&now)).map_err(out)?;
            removed += 1;
            continue;
        }
        match slick_queue::remove(&now.name) {
            Ok(true) => {
                writeln!(w, "removed /{} ({})", now.name, describe(&now)).map_err(out)?;
                removed += 1;
            }
            Ok(false) => {}
            Err(e) => {
                eprintln!("slickq: cannot remove /{}: {}", now.name, describe_open_error(&now.name, e));
                failed += 1;
            }
        }
    }
    if removed == 0 && failed == 0 {
        writeln!(w, "no stale queues").map_err(out)?;
    }
    if failed > 0 {
        return Err(msg(format!("{failed} stale queue(s) could not be removed")));
    }
    Ok(())
}
