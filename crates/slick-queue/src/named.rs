//! Queues by name in shared memory: the constructors of [`ByteQueue`] and
//! [`Queue<T>`] that create or open a segment (through `attach`). Only
//! builds with shared memory have them (`cfg_shm!` in lib.rs).

use bytemuck::Pod;

use crate::byte_queue::{element_size_u32, ByteQueue};
use crate::error::{Error, Result};
use crate::layout::Geometry;
use crate::options::Options;
use crate::queue::Queue;
use crate::region::Region;
use crate::shm::ShmName;

impl ByteQueue {
    /// Creates the shared-memory queue `name` (`/dev/shm/<name>`; on Windows
    /// the named mapping `<name>`), or opens it
    /// if it exists; then its capacity, element size and items_per_slot must
    /// equal these ([`Error::Mismatch`] otherwise), and its `read_last`
    /// setting this handle's ([`Error::FeatureMismatch`]).
    pub fn create_or_open(name: &str, size: u32, element_size: u32, options: &Options) -> Result<ByteQueue> {
        let geometry = Geometry::new(size, element_size, options.items_per_slot.unwrap_or(1))?;
        let name = ShmName::new(name)?;
        let att = crate::attach::attach(&name, &crate::attach::Request::CreateOrOpen(geometry), options)?;
        ByteQueue::from_attached(name, att, options)
    }

    /// Opens the existing shared-memory queue `name`, adopting its capacity
    /// and items_per_slot (an explicit [`Options::items_per_slot`] must match);
    /// its element size must be `element_size`.
    pub fn open(name: &str, element_size: u32, options: &Options) -> Result<ByteQueue> {
        ByteQueue::open_inner(name, Some(element_size), options)
    }

    /// Opens the existing shared-memory queue `name`, adopting its whole
    /// geometry, element size included (for tools that read any queue).
    pub fn open_any(name: &str, options: &Options) -> Result<ByteQueue> {
        ByteQueue::open_inner(name, None, options)
    }

    /// Opens the existing shared-memory queue `name` as a read-only view,
    /// adopting its whole geometry, for a user who may only read it (and
    /// for tools that must not modify a queue).
    ///
    /// The object is opened `O_RDONLY` and mapped copy-on-write: reads
    /// (`read`, `read_last`, `is_overwritten`, `initial_reading_index`) see
    /// the segment and what its producers publish. Anything written through
    /// this handle (`reserve`, `publish`, `push`, `reset`, writes into
    /// elements) goes to a private copy of the page it touches, never to the
    /// segment, and that page then stops showing the other processes'
    /// updates: a read-only view is for reading. Whoever owns the object
    /// (like inspection; no [`Options::allow_foreign_owner`] needed).
    pub fn open_read_only(name: &str, options: &Options) -> Result<ByteQueue> {
        let name = ShmName::new(name)?;
        let request =
            crate::attach::Request::Open { element_size: None, items_per_slot: options.items_per_slot, private: true };
        let att = crate::attach::attach(&name, &request, options)?;
        ByteQueue::from_attached(name, att, options)
    }

    fn open_inner(name: &str, element_size: Option<u32>, options: &Options) -> Result<ByteQueue> {
        let name = ShmName::new(name)?;
        let request =
            crate::attach::Request::Open { element_size, items_per_slot: options.items_per_slot, private: false };
        let att = crate::attach::attach(&name, &request, options)?;
        ByteQueue::from_attached(name, att, options)
    }

    fn from_attached(name: ShmName, att: crate::attach::Attached, options: &Options) -> Result<ByteQueue> {
        let len = att.mapping.len();
        let region = Region::shared(att.mapping, &att.geometry).map_err(|_| Error::Truncated {
            name: name.to_string(),
            len: len as u64,
            needed: att.geometry.segment_len() as u64,
        })?;
        // The doorbell object beside the segment (created on the first
        // attach of ours; peers never look at it). Without one (another
        // platform, no permission) waits poll on the bounded interval.
        #[cfg(target_os = "linux")]
        let bell =
            if options.doorbell { crate::doorbell::Doorbell::attach(&name, options.mode, options.allow_foreign_owner) } else { None };
        #[cfg(not(target_os = "linux"))]
        let bell = None;
        let mut q = ByteQueue::from_parts(region, att.geometry, options, Some((name, att.created)), bell);
        q._producer_lock = att.producer_lock;
        Ok(q)
    }
}

impl<T: Pod> Queue<T> {
    /// Creates the shared-memory queue `name` or opens it if it exists (see
    /// [`ByteQueue::create_or_open`]); the segment's element size must be
    /// `size_of::<T>()`.
    pub fn create_or_open(name: &str, size: u32, options: &Options) -> Result<Queue<T>> {
        let es = element_size_u32(std::mem::size_of::<T>())?;
        Ok(Queue::wrap(ByteQueue::create_or_open(name, size, es, options)?))
    }

    /// Opens the existing shared-memory queue `name`, adopting its capacity
    /// and items_per_slot; its element size must be `size_of::<T>()`.
    pub fn open(name: &str, options: &Options) -> Result<Queue<T>> {
        let es = element_size_u32(std::mem::size_of::<T>())?;
        Ok(Queue::wrap(ByteQueue::open(name, es, options)?))
    }
}
