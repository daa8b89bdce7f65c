//! How the commands write to stdout: text tables, JSON, and a record's bytes.

use std::io::Write;

use clap::ValueEnum;

use crate::fail::{out, Result};

/// How `slickq tail` shows a record's bytes (its `--format`).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Hexadecimal bytes.
    Hex,
    /// Little-endian u64 words (a last partial word is zero-extended).
    U64,
    /// UTF-8 text (invalid sequences replaced), trailing zero bytes removed.
    Utf8,
    /// The record's bytes exactly, with no index line or separator.
    Raw,
}

/// The bytes without their trailing zero padding.
pub fn trim_zeros(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    &bytes[..end]
}

/// Left-aligned text columns followed by right-aligned numeric ones, sized
/// to their widest cell.
pub struct Table {
    head: Vec<&'static str>,
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these columns; `right[i]` right-aligns column `i`.
    pub fn new(head: &[&'static str], right: &[bool]) -> Table {
        Table { head: head.to_vec(), right: right.to_vec(), rows: Vec::new() }
    }

    /// Adds a row (as many cells as columns).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Writes the header line and the rows.
    pub fn write(&self, w: &mut impl Write) -> Result<()> {
        let mut width: Vec<usize> = self.head.iter().map(|h| h.len()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate() {
                width[i] = width[i].max(c.chars().count());
            }
        }
        let line = |cells: Vec<&str>| {
            let mut s = String::new();
            for (i, c) in cells.iter().enumerate() {
                if i > 0 {
                    s.push_str("  ");
                }
                let pad = width[i].saturating_sub(c.chars().count());
                if self.right[i] {
                    s.push_str(&" ".repeat(pad));
                    s.push_str(c);
                } else {
                    s.push_str(c);
                    if i + 1 < cells.len() {
                        s.push_str(&" ".repeat(pad));
                    }
                }
            }
            s
        };
        writeln!(w, "{}", line(self.head.clone())).map_err(out)?;
        for r in &self.rows {
            writeln!(w, "{}", line(r.iter().map(String::as_str).collect())).map_err(out)?;
        }
        Ok(())
    }
}

/// Writes `value` as pretty JSON and a newline.
pub fn write_json(w: &mut impl Write, value: &impl serde::Serialize) -> Result<()> {
    serde_json::to_writer_pretty(&mut *w, value).map_err(json_error)?;
    writeln!(w).map_err(out)
}

/// Writes `value` as one line of JSON.
pub fn write_json_line(w: &mut impl Write, value: &impl serde::Serialize) -> Result<()> {
    serde_json::to_writer(&mut *w, value).map_err(json_error)?;
    writeln!(w).map_err(out)
}

/// A JSON write error: a closed stdout (`| head -1`) ends the command
/// quietly, as every other write to stdout does.
fn json_error(e: serde_json::Error) -> crate::fail::Fail {
    match e.io_error_kind() {
        Some(std::io::ErrorKind::BrokenPipe) => crate::fail::Fail::BrokenPipe,
        _ => crate::fail::msg(format!("cannot write JSON: {e}")),
    }
}
