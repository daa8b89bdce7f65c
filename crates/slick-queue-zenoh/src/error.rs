//! The one error type of the bridge.

/// Everything that can go wrong setting up or running a bridge.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum BridgeError {
    /// Zenoh refused something: the configuration, a key expression, opening
    /// the session, declaring or using a publisher or subscriber.
    #[error("zenoh: {0}")]
    Zenoh(String),
    /// The local queue refused an operation.
    #[error("queue: {0}")]
    Queue(String),
    /// The sender's queue and the receiver's queue have different element
    /// sizes: the receiver writes nothing rather than reinterpret records.
    #[error(
        "element size mismatch: the sender's queue has {sender}-byte elements but the local queue has \
         {local}-byte elements; nothing was written (create the receiving queue with --element-size {sender})"
    )]
    ElementSize {
        /// The sender's element size (from the message).
        sender: u32,
        /// The local queue's element size.
        local: u32,
    },
    /// A message on the key expression is not a well-formed bridge message.
    #[error("malformed bridge message: {0}")]
    Malformed(String),
    /// The bridge's own settings are invalid.
    #[error("invalid setting: {0}")]
    Config(String),
}

impl From<slick_queue::Error> for BridgeError {
    fn from(e: slick_queue::Error) -> Self {
        BridgeError::Queue(e.to_string())
    }
}

/// Converts a Zenoh error.
pub(crate) fn zerr(e: zenoh::Error) -> BridgeError {
    BridgeError::Zenoh(e.to_string())
}
