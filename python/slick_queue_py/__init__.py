"""A lock-free multi-producer multi-consumer ring queue over local memory or
POSIX shared memory, binary compatible with the C++ ``slick::SlickQueue`` and
the pure-Python ``slick-queue-py`` (2.3.0): C++, Rust and Python processes can
share one live queue.

This package is a drop-in replacement for ``slick-queue-py`` (same import
names, ``slick_queue_py`` and ``atomic_ops``), backed by the Rust
``slick-queue`` core. Beyond the original it offers ``SlickQueue.write()``
(one-call publish of any bytes), ``SlickQueue.read_wait()`` (a read that
waits, GIL released, asleep on the queue's doorbell),
``await SlickQueue.read_async()`` (the same for asyncio) and
``SlickQueue.read_batch()`` (several records per call).

Example::

    from slick_queue_py import SlickQueue

    q = SlickQueue(size=1024, element_size=256)
    idx = q.reserve()
    q[idx][:5] = b'hello'
    q.publish(idx)
    data, size, read_index = q.read(0)
"""

from ._native import (
    AtomicCursor,
    QueueTraitsSnapshot,
    SlickQueue,
    __version__,
    validate_traits,
)


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
]
