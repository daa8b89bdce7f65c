//! `slickq rm`: remove named queues, or every stale one.

use std::io::Write;
use std::time::Duration;

use clap::Args;

use crate::fail::{msg, out, Result};
use crate::segments::{describe_attached, describe_open_error, kept_by_holders, lookup, object_path, scan, Segment};
#[cfg(unix)]
use crate::segments::{unescape, SHM_DIR};
use crate::units::parse_duration;

/// The long help of `slickq rm` (`slickq rm --help`).
pub const ABOUT: &str = "\
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

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["names", "stale"])))]
pub struct RmArgs {
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

/// This process's effective uid (from /proc/self/status).
#[cfg(unix)]
fn euid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// Why unlinking `s` would be refused, as far as the directory's mode and
/// owners tell: /dev/shm is sticky, so only the object's owner, the
/// directory's owner and root may unlink it. What a dry run reports.
#[cfg(unix)]
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
    let owner = s.uid?;
    if dir.mode() & 0o1000 != 0 && owner != me && dir.uid() != me {
        return Some(format!(
            "permission denied: {SHM_DIR} is sticky and /{} belongs to {} (uid {owner}), not to uid {me}",
            s.name, s.owner
        ));
    }
    None
}

/// For a name given as `ls` prints it (with `\` escapes), the object it
/// stands for: `Ok(real name)` if that is UTF-8, `Err(path)` if not. `None`
/// if the name has no escapes or no such object exists.
#[cfg(unix)]
fn escaped_target(given: &str) -> Option<std::result::Result<String, std::path::PathBuf>> {
    use std::os::unix::ffi::OsStrExt;
    let bare = given.strip_prefix('/').unwrap_or(given);
    if !bare.contains('\\') {
        return None;
    }
    let bytes = unescape(bare)?;
    let path = std::path::Path::new(SHM_DIR).join(std::ffi::OsStr::from_bytes(&bytes));
    path.symlink_metadata().ok()?;
    Some(String::from_utf8(bytes).map_err(|_| path))
}

/// Removes an object whose name is not UTF-8 (no queue API can open it, so
/// it is never taken for a queue: `--force` is needed). `Ok(false)` if it
/// was not removed.
fn remove_raw(w: &mut impl Write, given: &str, path: &std::path::Path, force: bool, dry_run: bool) -> Result<bool> {
    let shown = given.strip_prefix('/').unwrap_or(given);
    if !force {
        eprintln!(
            "slickq: not removing {given:?}: /dev/shm/{shown} has a name that is not UTF-8, so it cannot be \
             inspected as a queue; add --force to remove it anyway"
        );
        return Ok(false);
    }
    if dry_run {
        writeln!(w, "would remove /{shown}").map_err(out)?;
        return Ok(true);
    }
    match std::fs::remove_file(path) {
        Ok(()) => {
            writeln!(w, "removed /{shown}").map_err(out)?;
            Ok(true)
        }
        Err(e) => {
            eprintln!("slickq: cannot remove {given:?}: {e}");
            Ok(false)
        }
    }
}

/// Windows: there is nothing to unlink (see `run_named`), so nothing to deny.
#[cfg(not(unix))]
fn unlink_denied(_s: &Segment) -> Option<String> {
    None
}

/// Windows: names are not escaped there (`ls` cannot list mappings).
#[cfg(not(unix))]
fn escaped_target(_given: &str) -> Option<std::result::Result<String, std::path::PathBuf>> {
    None
}

fn describe(s: &Segment) -> String {
    let mut d = s.status.as_str().to_owned();
    if let Some(age) = s.age_secs {
        d.push_str(&format!(", last modified {age:.0}s ago"));
    }
    d
}

/// Runs `rm`: the named objects, or every stale queue with `--stale`.
pub fn run(a: RmArgs) -> Result<()> {
    if a.stale {
        run_stale(a.grace, a.prefix.as_deref(), a.dry_run)
    } else {
        run_named(&a.names, a.force, a.dry_run)
    }
}

/// Removes the named objects: queues always, other objects only with `force`.
fn run_named(names: &[String], force: bool, dry_run: bool) -> Result<()> {
    let stdout = std::io::stdout();
    let mut w = stdout.lock();
    let mut failed = Vec::new();
    for given in names {
        // A name as `ls` prints it (escaped) names the object it stands for.
        let (name, seg) = match lookup(given, Duration::from_secs(10)) {
            Ok(s) => (given.clone(), s),
            Err(e) => match escaped_target(given) {
                Some(Ok(real)) => match lookup(&real, Duration::from_secs(10)) {
                    Ok(s) => (real, s),
                    Err(e) => {
                        eprintln!("slickq: {e}");
                        failed.push(given.as_str());
                        continue;
                    }
                },
                Some(Err(path)) => {
                    if !remove_raw(&mut w, given, &path, force, dry_run)? {
                        failed.push(given.as_str());
                    }
                    continue;
                }
                None => {
                    eprintln!("slickq: {e}");
                    failed.push(given.as_str());
                    continue;
                }
            },
        };
        let name = &name;
        if !seg.is_queue && !force {
            eprintln!(
                "slickq: not removing {name:?}: {} is not a slick-queue queue ({}: {}); \
                 add --force to remove it anyway",
                object_path(&seg.name),
                seg.status.as_str(),
                seg.note.as_deref().unwrap_or("no layout marker")
            );
            failed.push(given.as_str());
            continue;
        }
        if !slick_queue::REMOVE_UNLINKS {
            writeln!(
                w,
                "{} ({}) not removed: Windows has nothing to remove; a named mapping disappears when the last \
                 process holding it closes it",
                seg.name,
                describe(&seg)
            )
            .map_err(out)?;
            continue;
        }
        if dry_run {
            if let Some(why) = unlink_denied(&seg) {
                eprintln!("slickq: could not remove {name:?}: {why}");
                failed.push(given.as_str());
                continue;
            }
            writeln!(w, "would remove /{} ({})", seg.shown, describe(&seg)).map_err(out)?;
            continue;
        }
        match slick_queue::remove(name) {
            Ok(true) => writeln!(w, "removed /{} ({})", seg.shown, describe(&seg)).map_err(out)?,
            Ok(false) => writeln!(w, "/{} was already gone", seg.shown).map_err(out)?,
            Err(e) => {
                eprintln!("slickq: cannot remove {name:?}: {}", describe_open_error(name, e));
                failed.push(given.as_str());
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
fn run_stale(grace: Duration, prefix: Option<&str>, dry_run: bool) -> Result<()> {
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
            writeln!(w, "would remove /{} ({})", now.shown, describe(&now)).map_err(out)?;
            removed += 1;
            continue;
        }
        match slick_queue::remove(&now.name) {
            Ok(true) => {
                writeln!(w, "removed /{} ({})", now.shown, describe(&now)).map_err(out)?;
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
