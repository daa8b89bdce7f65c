//! Queue options: items per slot, the four traits, and how a shared segment is
//! created.

use std::time::Duration;

/// The file mode a created segment gets unless told otherwise: owner read and
/// write only.
///
/// A queue carries application data (orders, prices, sensor readings), so the
/// default is the least privilege that works: every process of the same user
/// can attach, nobody else can read or write. This is what the Python peer
/// uses; the C++ peer uses `0666` minus the umask. Set
/// [`Options::mode`] (for example `0o660`) to share a queue with a group. The
/// mode is applied exactly (the umask is undone with `fchmod`).
pub const DEFAULT_MODE: u32 = 0o600;

/// How long an attacher waits for a segment's creator to finish initializing
/// it (`docs/spec/WIRE_FORMAT.md` section 3: about 2 s).
pub const DEFAULT_INIT_TIMEOUT: Duration = Duration::from_secs(2);

/// Options for creating or opening a queue.
///
/// ```
/// use slick_queue::{Options, Queue};
///
/// let opts = Options::new().items_per_slot(4).read_last(false);
/// let q = Queue::<u64>::with_options(64, &opts)?;
/// assert_eq!(q.items_per_slot(), 4);
/// # Ok::<(), slick_queue::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    pub(crate) items_per_slot: Option<u32>,
    pub(crate) read_last: bool,
    pub(crate) reset_check: bool,
    pub(crate) loss_detection: bool,
    pub(crate) cpu_relax: bool,
    pub(crate) exclusive_producer: bool,
    pub(crate) mode: u32,
    pub(crate) init_timeout: Duration,
    pub(crate) allow_foreign_owner: bool,
    pub(crate) doorbell: bool,
    pub(crate) poll_interval: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            items_per_slot: None,
            read_last: true,
            reset_check: false,
            loss_detection: true,
            cpu_relax: true,
            exclusive_producer: false,
            mode: DEFAULT_MODE,
            init_timeout: DEFAULT_INIT_TIMEOUT,
            allow_foreign_owner: false,
            doorbell: true,
            poll_interval: crate::wait::POLL_INTERVAL,
        }
    }
}

impl Options {
    /// The defaults: `items_per_slot` 1 when creating (the segment's when
    /// opening), `read_last` on, `reset_check` off, `loss_detection` on,
    /// `cpu_relax` on, mode [`DEFAULT_MODE`], init timeout 2 s.
    pub fn new() -> Options {
        Options::default()
    }

    /// Elements per control slot (a power of two no larger than the capacity).
    /// Every reservation is rounded up to a multiple of it, and the control
    /// array shrinks by the same factor: use it for byte streams, where a
    /// 16-byte slot per element would dwarf the data. When opening an existing
    /// segment without a capacity, the segment's value is adopted and an
    /// explicit value must match it.
    pub fn items_per_slot(mut self, items_per_slot: u32) -> Options {
        self.items_per_slot = Some(items_per_slot);
        self
    }

    /// Maintain the last published index so that `read_last()` works (on by
    /// default; costs one compare-and-swap per publish). Part of the
    /// shared-memory contract: every peer of a segment must agree, and an
    /// attach that disagrees fails with [`crate::Error::FeatureMismatch`].
    pub fn read_last(mut self, on: bool) -> Options {
        self.read_last = on;
        self
    }

    /// Detect a concurrent `reset()` while reading and rewind the cursor (off
    /// by default; costs one load of the producers' reservation word per read).
    pub fn reset_check(mut self, on: bool) -> Options {
        self.reset_check = on;
        self
    }

    /// Count records skipped because producers lapped this reader, reported by
    /// `loss_count()` (on by default; costs nothing unless a loss happens).
    pub fn loss_detection(mut self, on: bool) -> Options {
        self.loss_detection = on;
        self
    }

    /// Issue a spin-loop hint between retries of a contended
    /// compare-and-swap (on by default).
    pub fn cpu_relax(mut self, on: bool) -> Options {
        self.cpu_relax = on;
        self
    }

    /// Promise that this handle is the only producer of the queue (off by
    /// default), the way Aeron's `ExclusivePublication` and the Disruptor's
    /// single-producer sequencer work: reserving becomes a plain load and
    /// store of the reservation word instead of a locked read-modify-write,
    /// and so does the last-published update. The records written are
    /// byte-identical on the wire; readers (Rust, Python, C++) see no
    /// difference.
    ///
    /// What is checked: a shared-memory handle with this option takes an
    /// exclusive advisory lock (`flock`) on the segment while it lives, so a
    /// second exclusive producer of this library on the same segment, in any
    /// process, is refused with [`crate::Error::ProducerClaimed`]. What is
    /// not: producers that do not take the lock, i.e. handles of this library
    /// without the option, the C++ original, or the original Python package.
    /// Any of those reserving while an exclusive producer is active is
    /// **undefined**: both may be handed the same positions, and records are
    /// lost or mixed (never memory-unsafe in this library: every access is
    /// atomic). Within a process, only one thread at a time may call the
    /// producing methods (`reserve`, `push`, `publish`, ...) of the handle;
    /// readers on any thread are unaffected. The lock belongs to the open
    /// segment, so a child made by `fork()` shares it until the child execs
    /// or exits (the descriptor is close-on-exec); such a child must not
    /// produce through the inherited handle.
    ///
    /// Sleeping readers: the exclusive producer rings the doorbell like any
    /// of our producers. Its publish takes no locked instruction, so readers
    /// going to sleep while it is attached add a `membarrier` system call
    /// (Linux, about a microsecond, only before sleeping) that orders it
    /// against their registration. Where the kernel refuses that call
    /// (before Linux 4.16, some sandboxes; other platforms have no doorbell
    /// sleep at all), a reader going to sleep at the very instant of a
    /// publish can miss the ring and sees the record when it next looks, at
    /// most its [`Options::poll_interval`] later.
    pub fn exclusive_producer(mut self, on: bool) -> Options {
        self.exclusive_producer = on;
        self
    }

    /// The permission bits a segment created by this handle gets (default
    /// [`DEFAULT_MODE`], `0o600`). Applied exactly, regardless of the umask.
    ///
    /// Only the nine permission bits (`0o777`) are allowed: a mode with
    /// setuid, setgid, the sticky bit or anything above makes creating a
    /// segment fail with [`crate::Error::InvalidMode`].
    pub fn mode(mut self, mode: u32) -> Options {
        self.mode = mode;
        self
    }

    /// Attach to a segment (or shared cursor) owned by another user (off
    /// by default).
    ///
    /// `/dev/shm` is writable by everyone, so anyone can create a queue's
    /// name before its real creator does and then read what is written to
    /// it or feed it records. By default opening an existing object whose
    /// owner is not this process's effective user fails with
    /// [`crate::Error::ForeignOwner`]; turn this on when the queue is meant
    /// to be shared between users (a group-writable mode, or a 0666 segment
    /// made by the C++ peer under another account).
    pub fn allow_foreign_owner(mut self, on: bool) -> Options {
        self.allow_foreign_owner = on;
        self
    }

    /// Whether segments owned by other users may be opened.
    pub fn get_allow_foreign_owner(&self) -> bool {
        self.allow_foreign_owner
    }

    /// How long to wait for another process to finish creating a segment
    /// before failing with [`crate::Error::InitTimeout`] (default 2 s).
    pub fn init_timeout(mut self, timeout: Duration) -> Options {
        self.init_timeout = timeout;
        self
    }

    /// Whether this handle uses the queue's doorbell (default on): a shared
    /// queue's handle then creates or opens the `<name>.doorbell` object,
    /// rings it after publishing when a reader sleeps, and sleeps on it when
    /// waiting. Off: no side object; this handle's waits poll every
    /// [`Options::poll_interval`] and its publishes never ring (like a C++
    /// or original Python peer's).
    pub fn doorbell(mut self, on: bool) -> Options {
        self.doorbell = on;
        self
    }

    /// The longest a waiting reader sleeps between looks at the queue
    /// (default [`crate::wait::POLL_INTERVAL`], 1 ms): the bound on how late
    /// it sees a record from a producer that does not ring the doorbell
    /// (C++ and original Python peers), and the wake-up rate of an idle
    /// waiter. Raising it only delays such records; records of our
    /// producers still wake readers at once (for an exclusive producer see
    /// [`Options::exclusive_producer`]).
    pub fn poll_interval(mut self, interval: Duration) -> Options {
        self.poll_interval = interval.max(Duration::from_micros(1));
        self
    }

    /// See [`Options::doorbell`].
    pub fn get_doorbell(&self) -> bool {
        self.doorbell
    }

    /// See [`Options::poll_interval`].
    pub fn get_poll_interval(&self) -> Duration {
        self.poll_interval
    }

    /// The configured `items_per_slot`, if any.
    pub fn get_items_per_slot(&self) -> Option<u32> {
        self.items_per_slot
    }

    /// Whether the exclusive producer is on.
    pub fn get_exclusive_producer(&self) -> bool {
        self.exclusive_producer
    }

    /// Whether `read_last` is on.
    pub fn get_read_last(&self) -> bool {
        self.read_last
    }

    /// Whether `reset_check` is on.
    pub fn get_reset_check(&self) -> bool {
        self.reset_check
    }

    /// Whether `loss_detection` is on.
    pub fn get_loss_detection(&self) -> bool {
        self.loss_detection
    }

    /// Whether `cpu_relax` is on.
    pub fn get_cpu_relax(&self) -> bool {
        self.cpu_relax
    }

    /// The creation mode.
    pub fn get_mode(&self) -> u32 {
        self.mode
    }

    /// The init timeout.
    pub fn get_init_timeout(&self) -> Duration {
        self.init_timeout
    }
}
