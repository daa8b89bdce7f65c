"""The original README's call shapes, whatever ``SLICK_QUEUE_PY_API`` says::

    from slick_queue_py.api10 import SlickQueue

    q = SlickQueue(size=1024, element_size=64)
    data, size = q.read(cursor)   # cursor: an AtomicCursor
    data = q.read_last()          # None when empty

Everything else is the same as in :mod:`slick_queue_py`.
"""

from . import _native


class SlickQueue(_native.SlickQueue):
    """:class:`slick_queue_py.SlickQueue` with the original README's call
    shapes: ``read(AtomicCursor) -> (data, size)`` and ``read_last() ->
    bytes | None``."""

    _slick_queue_api = "1.0"


__all__ = ["SlickQueue"]
