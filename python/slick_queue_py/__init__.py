"""A lock-free multi-producer multi-consumer ring queue over local memory or
POSIX shared memory, binary compatible with the C++ ``slick::SlickQueue`` and
the pure-Python ``slick-queue-py`` (2.3.0): C++, Rust and Python processes can
share one live queue.

This package is a drop-in replacement for ``slick-queue-py`` (same import
names, ``slick_queue_py`` and ``atomic_ops``), backed by the Rust
``slick-queue`` core. Beyond the original it offers ``SlickQueue.write()``
(one-call publish of any bytes), ``SlickQueue.read_wait()`` (a read that
waits, GIL released, asleep on the queue's doorbell),
``await SlickQueue.read_async()`` (the same for asyncio), ``SlickQueue.read_batch()`` (several records per
call) and the batch calls ``SlickQueue.write_batch()`` /
``SlickQueue.read_into()`` (many one-element records per call through the
buffer protocol).

Two API generations: by default the call shapes of the original README;
with ``SLICK_QUEUE_PY_API=2.3`` in the environment at import, those of
slick-queue-py 2.3.0 (``read(AtomicCursor)`` returns ``(data, size,
read_index)``, ``read_last()`` returns ``(data, size)``). In code,
``from slick_queue_py.api23 import SlickQueue`` (or ``api10``) picks one
regardless of the environment.

Example::

    from slick_queue_py import SlickQueue

    q = SlickQueue(size=1024, element_size=256)
    idx = q.reserve()
    q[idx][:5] = b'hello'
    q.publish(idx)
    data, size, read_index = q.read(0)
"""

import os as _os

from . import _native
from ._native import (
    ELEMENT_SIZE_OFFSET,
    HEADER_MAGIC,
    HEADER_MAGIC_FEATURE_MASK,
    HEADER_MAGIC_ITEMS_PER_SLOT,
    HEADER_MAGIC_KNOWN_FEATURES,
    HEADER_MAGIC_OFFSET,
    HEADER_MAGIC_READ_LAST,
    HEADER_SIZE,
    INIT_STATE_INITIALIZING,
    INIT_STATE_LEGACY,
    INIT_STATE_OFFSET,
    INIT_STATE_READY,
    INIT_STATE_UNINITIALIZED,
    ITEMS_PER_SLOT_OFFSET,
    K_INVALID_INDEX,
    LAST_PUBLISHED_OFFSET,
    RESERVED_INFO_SIZE,
    SIZE_OFFSET,
    SLOT_FMT,
    SLOT_SIZE,
    SLOT_SIZE_OFFSET,
    AtomicCursor,
    QueueTraitsSnapshot,
    SlickQueue,
    __version__,
    validate_traits,
)

from ._segment import _open_shm  # noqa: F401  (2.3.0's test suite imports it)

# slick-queue-py 2.3.0's module carries these names too (it imports them from
# its atomic_ops), so code may import them from slick_queue_py.
from ._atomics import (  # noqa: E402
    AtomicReservedInfo,
    AtomicUInt64,
    check_platform_support,
    get_index,
    get_size,
    make_reserved_info,
)

#: The API generation queues follow unless their class chooses one:
#: ``"1.0"`` (the original README, the default) or ``"2.3"``
#: (slick-queue-py 2.3.0's call shapes), from the environment variable
#: ``SLICK_QUEUE_PY_API`` at import. See ``SlickQueue.api``.
API = _os.environ.get("SLICK_QUEUE_PY_API", "1.0")
try:
    _native._set_default_api(API)
except ValueError as _e:
    raise ValueError(f"environment variable SLICK_QUEUE_PY_API={API!r}: {_e}") from None
API = _native._default_api()


class QueueTraits:
    """Feature configuration for :class:`SlickQueue`, as in C++
    ``slick::queue_traits``. Subclass it and override what you need::

        class MyTraits(QueueTraits):
            enable_reset_check = True   # opt in
            enable_read_last = False    # opt out

        q = SlickQueue(size=1024, element_size=8, traits=MyTraits)

    Every attribute must be a ``bool`` (``TypeError`` otherwise). The queue
    takes a snapshot when it is built (``q.traits``); later changes to the
    class do not affect it.
    """

    #: Maintain the last published index so that ``read_last()`` works (one
    #: compare-and-swap per publish). Part of the shared-memory contract:
    #: every process of a queue must use the same value (``RuntimeError``
    #: otherwise).
    enable_read_last = True

    #: Detect a concurrent ``reset()`` while reading and rewind the cursor
    #: (one extra load per read).
    enable_reset_check = False

    #: Count records skipped because producers lapped a reader, reported by
    #: ``loss_count()``.
    enable_loss_detection = True

    #: Issue a spin-loop hint between retries of a contended compare-and-swap.
    enable_cpu_relax = True


#: The traits a queue uses when none are given.
default_queue_traits = QueueTraits

__all__ = [
    "SlickQueue",
    "AtomicCursor",
    "QueueTraits",
    "QueueTraitsSnapshot",
    "default_queue_traits",
    "validate_traits",
    "__version__",
    "API",
    # slick-queue-py 2.3.0's module-level names.
    "AtomicReservedInfo",
    "AtomicUInt64",
    "check_platform_support",
    "make_reserved_info",
    "get_index",
    "get_size",
    "HEADER_SIZE",
    "RESERVED_INFO_SIZE",
    "SIZE_OFFSET",
    "ELEMENT_SIZE_OFFSET",
    "LAST_PUBLISHED_OFFSET",
    "HEADER_MAGIC_OFFSET",
    "HEADER_MAGIC",
    "HEADER_MAGIC_FEATURE_MASK",
    "HEADER_MAGIC_READ_LAST",
    "HEADER_MAGIC_ITEMS_PER_SLOT",
    "HEADER_MAGIC_KNOWN_FEATURES",
    "ITEMS_PER_SLOT_OFFSET",
    "INIT_STATE_OFFSET",
    "INIT_STATE_UNINITIALIZED",
    "INIT_STATE_LEGACY",
    "INIT_STATE_INITIALIZING",
    "INIT_STATE_READY",
    "K_INVALID_INDEX",
    "SLOT_FMT",
    "SLOT_SIZE",
    "SLOT_SIZE_OFFSET",
]
