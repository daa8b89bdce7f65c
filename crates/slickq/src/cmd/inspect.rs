//! `slickq inspect NAME`: the decoded header and control slots of one queue,
//! read with `pread` (never mapped, never joined, never modified).

use std::io::Write;
use std::time::Duration;

use clap::Args;
use serde::Serialize;
use slick_queue::doorbell_name;
use slick_queue::inspect::read_slots;
use slick_queue::layout::EMPTY_INDEX;

use crate::fail::{msg, out, Result};
use crate::output::write_json;
use crate::segments::{describe_attached, lookup, object_path, os_name, HeaderView, Segment};

/// The long help of `slickq inspect` (`slickq inspect --help`).
pub const ABOUT: &str = "\
Decode one queue's header and control slots without joining it.

The object is opened read-only and read with pread: inspecting never maps,
joins or modifies the queue, and works on half-initialised or truncated
segments too. Shows the raw and decoded header (marker, features,
init_state, geometry, write index, last published index) and the first and
last few control slots.";

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// The queue's name (with or without the leading '/').
    name: String,
    /// How many control slots to show from each end of the control array.
    #[arg(long, default_value_t = 4, value_name = "N")]
    slots: u64,
    /// Print a JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// One control slot, decoded.
#[derive(Serialize)]
struct SlotView {
    slot: u64,
    /// `None` when the slot is empty.
    data_index: Option<u64>,
    size: u32,
    /// `empty`, `record` or `wrap_marker`.
    kind: &'static str,
}

#[derive(Serialize)]
struct Report {
    #[serde(flatten)]
    segment: Segment,
    slots_first: Vec<SlotView>,
    slots_last: Vec<SlotView>,
}

fn slot_kind(slot: u64, data_index: u64, h: &HeaderView) -> &'static str {
    if data_index == EMPTY_INDEX {
        return "empty";
    }
    let position = data_index & u64::from(h.capacity.max(1) - 1);
    if position / u64::from(h.items_per_slot.max(1)) == slot {
        "record"
    } else {
        "wrap_marker"
    }
}

fn slots(name: &str, h: &HeaderView, first: u64, count: u64) -> Result<Vec<SlotView>> {
    Ok(read_slots(name, first, count)?
        .into_iter()
        .map(|s| SlotView {
            slot: s.slot,
            data_index: (s.data_index != EMPTY_INDEX).then_some(s.data_index),
            size: s.size,
            kind: slot_kind(s.slot, s.data_index, h),
        })
        .collect())
}

/// Prints the header and the first and last `n` control slots of `name`.
pub fn run(a: InspectArgs) -> Result<()> {
    let InspectArgs { name, slots: n, json } = a;
    let name = name.as_str();
    let seg = lookup(name, Duration::from_secs(10))?;
    if !seg.is_queue {
        return Err(msg(format!(
            "{name:?} is not a slick-queue queue: {} is {} ({})",
            object_path(&seg.name),
            seg.status.as_str(),
            seg.note.as_deref().unwrap_or("no layout marker")
        )));
    }
    let (mut first, mut last) = (Vec::new(), Vec::new());
    if let Some(h) = &seg.header {
        if let Some(count) = h.slot_count.map(u64::from) {
            first = slots(name, h, 0, n.min(count))?;
            let tail_start = count.saturating_sub(n).max(n.min(count));
            last = slots(name, h, tail_start, count - tail_start)?;
        }
    }
    let stdout = std::io::stdout();
    let mut w = stdout.lock();
    if json {
        return write_json(&mut w, &Report { segment: seg, slots_first: first, slots_last: last });
    }
    let mut lines = vec![
        format!("name            {}  ({})", os_name(&seg.shown), object_path(&seg.shown)),
        format!(
            "status          {}{}",
            seg.status.as_str(),
            seg.note.as_deref().map(|n| format!(": {n}")).unwrap_or_default()
        ),
        format!(
            "object          {} bytes, mode {}, owner {} (uid {}), last modified {:.0}s ago",
            seg.bytes,
            seg.mode,
            seg.owner,
            seg.uid.map_or_else(|| "-".to_owned(), |u| u.to_string()),
            seg.age_secs.unwrap_or(0.0)
        ),
    ];
    if let Some(h) = &seg.header {
        let features = if h.features.is_empty() { "none".to_owned() } else { h.features.join(", ") };
        let opt = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
        lines.extend([
            format!("magic           {} \"{}\" (features: {features})", h.magic, h.marker),
            format!("init_state      {} ({})", h.init_state, h.init_state_name),
            format!("capacity        {} elements", h.capacity),
            format!("element_size    {} bytes", h.element_size),
            format!("items_per_slot  {}", h.items_per_slot),
            format!("slot_count      {}", opt(h.slot_count.map(u64::from))),
            format!("data_offset     {}", opt(h.data_offset)),
            format!("needed_bytes    {}", opt(h.needed_bytes)),
            format!(
                "reserved        {:#018x} (write index {}, last reservation {} element(s))",
                h.reserved, h.write_index, h.last_reservation
            ),
            format!("write_index     {}", h.write_index),
            format!("last_published  {}", h.last_published.map_or_else(|| "none".to_owned(), |l| l.to_string())),
        ]);
    }
    lines.push(format!(
        "attached        {}",
        if seg.attached.is_empty() { "none".to_owned() } else { describe_attached(&seg.attached) }
    ));
    lines.push(match seg.sleeping_readers {
        Some(n) => {
            format!(
                "sleeping        {n} reader(s) asleep on the doorbell ({})",
                object_path(&doorbell_name(&seg.shown))
            )
        }
        None if cfg!(target_os = "linux") => {
            "sleeping        - (no doorbell object: no process of this project has attached)".to_owned()
        }
        None => "sleeping        - (no doorbell on this platform: waiting readers poll)".to_owned(),
    });
    for l in lines {
        writeln!(w, "{l}").map_err(out)?;
    }
    let total = seg.header.as_ref().and_then(|h| h.slot_count).unwrap_or(0);
    if !first.is_empty() {
        writeln!(w, "control slots (first {} of {total}):", first.len()).map_err(out)?;
        write_slots(&mut w, &first)?;
    }
    if !last.is_empty() {
        writeln!(w, "control slots (last {} of {total}):", last.len()).map_err(out)?;
        write_slots(&mut w, &last)?;
    }
    Ok(())
}

fn write_slots(w: &mut impl Write, slots: &[SlotView]) -> Result<()> {
    for s in slots {
        let text = match (s.kind, s.data_index) {
            ("record", Some(d)) => format!("record at index {d}, {} element(s)", s.size),
            ("wrap_marker", Some(d)) => format!("wrap marker: readers jump to index {d} ({} element(s))", s.size),
            _ => format!("empty (size {})", s.size),
        };
        writeln!(w, "  slot {:>6}: {text}", s.slot).map_err(out)?;
    }
    Ok(())
}
