//! Permissions: objects of other users or restrictive modes give typed
//! errors, and created objects get exactly the mode asked for.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use libtest_mimic::{Failed, Trial};
use slick_queue::{ByteQueue, Error, Options, SharedCursor};
use testkit::ShmGuard;

use super::say;
use crate::{ensure, finish, spawn, ES};

pub(super) fn trials() -> Vec<Trial> {
    vec![
        Trial::test("permission_denied_is_an_error_not_a_crash", permission_denied_is_an_error_not_a_crash),
        Trial::test("created_mode_is_exact_whatever_the_umask", created_mode_is_exact_whatever_the_umask),
    ]
}

/// The roles of this file; `None` when `role` is not one of them.
pub(super) fn run_role(role: &str, a: &[String]) -> Option<Result<(), Error>> {
    let arg = |i: usize| a.get(i).map(String::as_str).unwrap_or("");
    Some(match role {
        // as_nobody NAME...: drop root to nobody, try each name, report.
        "as_nobody" => {
            drop_privileges();
            // Permission checks with the opt-in to other users' objects
            // (`default=`: what a plain open says).
            let foreign = Options::new().allow_foreign_owner(true);
            for name in a {
                let default = ByteQueue::open(name, ES, &Options::new()).err();
                let default_create = ByteQueue::create_or_open(name, 64, ES, &Options::new()).err();
                let default_cursor = SharedCursor::open(name).err();
                let open = ByteQueue::open(name, ES, &foreign).err();
                let create = ByteQueue::create_or_open(name, 64, ES, &foreign).err();
                let cursor = SharedCursor::open_with(name, &foreign).err();
                let remove = slick_queue::remove(name).err();
                let inspect = slick_queue::inspect::segment_info(name).err();
                say(&format!(
                    "{name} default={}/{}/{} open={} create={} cursor={} remove={} inspect={}",
                    kind(default.as_ref()),
                    kind(default_create.as_ref()),
                    kind(default_cursor.as_ref()),
                    kind(open.as_ref()),
                    kind(create.as_ref()),
                    kind(cursor.as_ref()),
                    kind(remove.as_ref()),
                    kind(inspect.as_ref())
                ));
            }
            Ok(())
        }
        // create_umask NAME MODE UMASK [cursor]: create with MODE under UMASK.
        "create_umask" => {
            let mode = u32::from_str_radix(arg(1), 8).unwrap_or(0);
            let mask = u32::from_str_radix(arg(2), 8).unwrap_or(0);
            rustix::process::umask(rustix::fs::Mode::from_bits_truncate(mask));
            let opts = if mode == 0 { Options::new() } else { Options::new().mode(mode) };
            if arg(3) == "cursor" {
                SharedCursor::create_or_open(arg(0), &opts).map(|_| say("created"))
            } else {
                ByteQueue::create_or_open(arg(0), 8, ES, &opts).map(|_| say("created"))
            }
        }
        _ => return None,
    })
}

fn kind(e: Option<&Error>) -> &'static str {
    match e {
        None => "ok",
        Some(Error::PermissionDenied { .. }) => "PermissionDenied",
        Some(Error::ForeignOwner { .. }) => "ForeignOwner",
        Some(Error::NotFound { .. }) => "NotFound",
        Some(Error::InitTimeout { .. }) => "InitTimeout",
        Some(Error::Truncated { .. }) => "Truncated",
        Some(Error::Os { .. }) => "Os",
        Some(_) => "other",
    }
}

/// root -> nobody/nogroup with no supplementary groups (this process is
/// single-threaded here, so the per-thread Linux calls cover all of it).
fn drop_privileges() {
    use rustix::process::{Gid, Uid};
    let id = |file: &str, who: &str| -> u32 {
        std::fs::read_to_string(file)
            .ok()
            .and_then(|t| {
                t.lines().find_map(|l| {
                    let mut f = l.split(':');
                    (f.next() == Some(who)).then(|| f.nth(1).and_then(|v| v.parse().ok())).flatten()
                })
            })
            .unwrap_or(65534)
    };
    let (uid, gid) = (id("/etc/passwd", "nobody"), id("/etc/group", "nogroup"));
    rustix::thread::set_thread_groups(&[]).expect("setgroups");
    let gid = Gid::from_raw(gid);
    rustix::thread::set_thread_res_gid(gid, gid, gid).expect("setresgid");
    let uid = Uid::from_raw(uid);
    rustix::thread::set_thread_res_uid(uid, uid, uid).expect("setresuid");
    assert!(!rustix::process::geteuid().is_root());
}

/// Objects the current user may not open give `PermissionDenied`, never a
/// crash. As root (CI), a child drops to nobody:nogroup and tries root's
/// objects of mode 0600 (the default), 0644 and 0666. As a normal user,
/// an object of mode 0000 of our own stands in (root would bypass it).
fn permission_denied_is_an_error_not_a_crash() -> Result<(), Failed> {
    let mut g = ShmGuard::new("perm");
    if !rustix::process::geteuid().is_root() {
        let _q = ByteQueue::create_or_open(&g.name, 64, ES, &Options::new().mode(0))?;
        let e = ByteQueue::open(&g.name, ES, &Options::new()).err().ok_or("opened a mode 0000 object")?;
        ensure(matches!(e, Error::PermissionDenied { .. }), format!("{e:?}"))?;
        ensure(e.to_string().contains("permission denied"), e.to_string())?;
        return Ok(());
    }
    let names: Vec<String> = ["600", "644", "666"].iter().map(|m| g.also(m)).collect();
    let _queues = names
        .iter()
        .zip([0o600, 0o644, 0o666])
        .map(|(n, mode)| ByteQueue::create_or_open(n, 64, ES, &Options::new().mode(mode)))
        .collect::<Result<Vec<_>, _>>()?;
    let args: Vec<&str> = names.iter().map(String::as_str).collect();
    let (code, lines) = finish(spawn("as_nobody", &args), Duration::from_secs(60))?;
    ensure(code == 0 && lines.len() == 3, format!("{code} {lines:?}"))?;
    let denied = "default=PermissionDenied/PermissionDenied/PermissionDenied \
                  open=PermissionDenied create=PermissionDenied cursor=PermissionDenied";
    // /dev/shm is sticky: nobody may not unlink root's objects.
    ensure(lines[0] == format!("{} {denied} remove=PermissionDenied inspect=PermissionDenied", names[0]), &lines[0])?;
    ensure(lines[1] == format!("{} {denied} remove=PermissionDenied inspect=ok", names[1]), &lines[1])?;
    // 0666 (the C++ peer's default without a umask): the OS lets anyone in,
    // but another user's object is refused (ForeignOwner: it may be a
    // squatter's) unless the caller opts in with allow_foreign_owner.
    ensure(
        lines[2]
            == format!(
                "{} default=ForeignOwner/ForeignOwner/ForeignOwner open=ok create=ok cursor=ok \
                 remove=PermissionDenied inspect=ok",
                names[2]
            ),
        &lines[2],
    )?;
    for n in &names {
        ensure(std::path::Path::new(&format!("/dev/shm/{n}")).exists(), "nothing was removed")?;
    }
    Ok(())
}

/// The mode of a created queue or cursor object is exactly what the
/// options say (default 0600), whatever the creating process's umask;
/// checked with fstat on the object.
fn created_mode_is_exact_whatever_the_umask() -> Result<(), Failed> {
    let mut g = ShmGuard::new("umask");
    for (i, (mode, umask, what)) in [
        ("0", "077", "queue"),
        ("0", "000", "queue"),
        ("666", "022", "queue"),
        ("640", "027", "queue"),
        ("604", "777", "queue"),
        ("0", "022", "cursor"),
        ("660", "077", "cursor"),
    ]
    .into_iter()
    .enumerate()
    {
        let name = g.also(&i.to_string());
        let (code, lines) = finish(spawn("create_umask", &[&name, mode, umask, what]), Duration::from_secs(30))?;
        ensure(code == 0 && lines == ["created"], format!("{code} {lines:?}"))?;
        let file = std::fs::File::open(format!("/dev/shm/{name}"))?;
        let got = file.metadata()?.permissions().mode() & 0o7777;
        let want = if mode == "0" { slick_queue::DEFAULT_MODE } else { u32::from_str_radix(mode, 8)? };
        ensure(got == want, format!("{what} mode {mode} under umask {umask}: got {got:o}, want {want:o}"))?;
    }
    Ok(())
}
