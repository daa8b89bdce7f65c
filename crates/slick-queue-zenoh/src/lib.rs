//! Carries the records of a slick-queue queue to other hosts over Zenoh.
//!
//! A [`Sender`] reads every record of a local queue with its own cursor
//! (it never slows the queue's producers) and publishes the records on a
//! Zenoh key expression, several small records per message when it is
//! behind, never splitting or reordering one. A [`Receiver`] subscribes to
//! the key expression and writes each record, whole, into a local queue,
//! where Rust, C++ and Python consumers read it like any other record.
//!
//! Every message carries the source indices and the sender's running
//! counters (see [`frame`]), so the receiver reports exactly how many
//! elements were lost end to end: by the sender's cursor (lapped on the
//! source ring) and between the two (dropped by Zenoh under congestion, or
//! while the receiver was away). The element size is checked on every
//! message: a mismatch is an error and nothing is written.
//!
//! ```no_run
//! use slick_queue::{ByteQueue, Options};
//! use slick_queue_zenoh::{Network, Receiver, Sender, SenderOptions};
//! use std::time::Duration;
//!
//! let net = Network { listen: vec!["tcp/127.0.0.1:7447".into()], ..Network::default() };
//! let session = net.open()?;
//! let source = ByteQueue::open_any("orders", &Options::new())?;
//! let mut sender = Sender::new(&session, source, &SenderOptions::new("demo/orders"))?;
//! loop {
//!     sender.poll(Duration::from_millis(100))?;
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! See `docs/BRIDGE.md` in the repository for the framing, the loss
//! accounting and deployment with peers and routers.

pub mod frame;

mod error;
mod network;
mod receiver;
mod sender;

pub use error::BridgeError;
pub use network::Network;
pub use receiver::{Receiver, ReceiverStats};
pub use sender::{IdleWait, Sender, SenderOptions, SenderStats};
pub use zenoh;
