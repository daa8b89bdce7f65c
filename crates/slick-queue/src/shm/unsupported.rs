//! Stand-in for builds without shared memory support (other platforms, and
//! the loom model-checking build): names cannot be made, so no queue is ever
//! shared.

use crate::error::{Error, Result};

/// Uninhabited: no shared-memory name exists on this build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShmName {}

impl ShmName {
    /// Always [`Error::Unsupported`].
    pub fn new(_name: &str) -> Result<ShmName> {
        Err(Error::Unsupported)
    }
    /// Unreachable: there is no value.
    pub fn as_posix(&self) -> &str {
        match *self {}
    }
    /// Unreachable: there is no value.
    pub fn os_name(&self) -> &str {
        match *self {}
    }
}

/// Nothing can be unlinked on this build.
pub(crate) const CAN_UNLINK: bool = false;

/// Uninhabited: no segment, so no producer lock on one.
pub(crate) enum ProducerLock {}

pub(crate) fn unlink(name: &ShmName) -> Result<bool> {
    match *name {}
}

pub(crate) fn remove_doorbell(queue: &ShmName) {
    match *queue {}
}
