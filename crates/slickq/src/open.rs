//! Joining an existing queue by name for reading or writing, adopting its
//! whole geometry and its `read_last` feature, with errors that name the
//! object and say what it is.

use std::time::Duration;

use slick_queue::{ByteQueue, Options};

use crate::fail::{msg, Result};
use crate::segments::{lookup, Status};

/// Opens the queue `name` (it must exist), adopting its capacity, element
/// size, items_per_slot and read_last setting.
pub fn open_queue(name: &str) -> Result<ByteQueue> {
    let seg = lookup(name, Duration::ZERO)?;
    check_openable(name, seg.status, seg.note.as_deref(), seg.age_secs)?;
    let read_last = seg.header.as_ref().is_some_and(|h| h.features.iter().any(|f| f == "read_last"));
    // A marker-less header in the middle of its creation is still waited for
    // by the core (up to its 2 s init timeout); say what it is if that fails.
    let options = Options::new().read_last(read_last);
    ByteQueue::open_any(name, &options).map_err(|e| {
        let again = lookup(name, Duration::ZERO).ok();
        match again {
            Some(s) if !s.status.is_queue() => msg(format!(
                "/dev/shm/{} is not a slick-queue queue ({}): {e}",
                s.name,
                s.note.unwrap_or_else(|| s.status.as_str().to_owned())
            )),
            _ => msg(format!("cannot open queue {name:?}: {e}")),
        }
    })
}

/// Refuses objects that cannot become an openable queue by waiting: foreign
/// ones that are fully initialised, queues made by newer peers, corrupt or
/// truncated ones.
fn check_openable(name: &str, status: Status, note: Option<&str>, age: Option<f64>) -> Result<()> {
    let why = note.unwrap_or("");
    let recent = age.is_some_and(|a| a < 2.0);
    match status {
        Status::Ok | Status::Initializing | Status::Uninitialized => Ok(()),
        // A creator sizes the object and writes the marker right after
        // creating it: give a very young object the benefit of the doubt.
        Status::Foreign | Status::Short if recent => Ok(()),
        Status::Foreign | Status::Short => {
            Err(msg(format!("{name:?} is not a slick-queue queue: {why} (see `slickq inspect` or `slickq ls --all`)")))
        }
        Status::Newer => Err(msg(format!("cannot open queue {name:?}: {why}; use a newer slickq"))),
        Status::Truncated | Status::Corrupt => Err(msg(format!(
            "cannot open queue {name:?}: it is {}: {why} (remove it with `slickq rm {name}`)",
            status.as_str()
        ))),
        Status::Unreadable => Err(msg(format!("cannot open {name:?}: {why}"))),
    }
}
