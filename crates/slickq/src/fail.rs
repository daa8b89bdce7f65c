//! The CLI's error: a message for stderr, or a closed stdout (a pipeline
//! reader such as `head` went away), which ends a command quietly.

use std::fmt;
use std::io;

/// Why a command stopped early.
#[derive(Debug)]
pub enum Fail {
    /// A clear, complete message for the user.
    Msg(String),
    /// stdout was closed by its reader: stop without an error.
    BrokenPipe,
    /// Ctrl-C ended a command that stops cleanly: exit status 130, no message.
    Interrupted,
}

/// Shorthand for a command's result.
pub type Result<T, E = Fail> = std::result::Result<T, E>;

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fail::Msg(m) => f.write_str(m),
            Fail::BrokenPipe => f.write_str("output closed"),
            Fail::Interrupted => f.write_str("interrupted"),
        }
    }
}

impl From<slick_queue::Error> for Fail {
    fn from(e: slick_queue::Error) -> Fail {
        Fail::Msg(e.to_string())
    }
}

/// Builds a message error.
pub fn msg(m: impl Into<String>) -> Fail {
    Fail::Msg(m.into())
}

/// Maps a write error on stdout: a closed pipe ends the command quietly.
pub fn out(e: io::Error) -> Fail {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Fail::BrokenPipe
    } else {
        Fail::Msg(format!("cannot write to stdout: {e}"))
    }
}
