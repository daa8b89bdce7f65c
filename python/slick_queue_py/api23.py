"""slick-queue-py 2.3.0's call shapes, whatever ``SLICK_QUEUE_PY_API`` says::

    from slick_queue_py.api23 import SlickQueue

    q = SlickQueue(size=1024, element_size=64)
    data, size, read_index = q.read(cursor)   # cursor: an AtomicCursor
    data, size = q.read_last()                # (None, 0) when empty

Everything else is the same as in :mod:`slick_queue_py`.
"""

from typing import TYPE_CHECKING, Any, Coroutine, Optional, Tuple, Union, overload

from . import _native
from ._native import AtomicCursor


class SlickQueue(_native.SlickQueue):
    """:class:`slick_queue_py.SlickQueue` with slick-queue-py 2.3.0's call
    shapes: ``read(AtomicCursor) -> (data, size, read_index)`` (``(None, 0,
    -1)`` when nothing is there) and ``read_last() -> (data, size)``
    (``(None, 0)`` when empty); ``read_wait(AtomicCursor)`` and ``read_async(AtomicCursor)``
    follow ``read``."""

    _slick_queue_api = "2.3"

    if TYPE_CHECKING:  # the 2.3.0 shapes, for type checkers only

        @overload  # type: ignore[override]
        def read(self, read_index: int) -> Tuple[Optional[bytes], int, int]: ...
        @overload
        def read(self, read_index: AtomicCursor) -> Tuple[Optional[bytes], int, int]: ...
        def read(self, read_index: Union[int, AtomicCursor]) -> Tuple[Optional[bytes], int, int]: ...
        @overload  # type: ignore[override]
        def read_wait(self, read_index: int, timeout: Optional[float] = None) -> Tuple[Optional[bytes], int, int]: ...
        @overload
        def read_wait(
            self, read_index: AtomicCursor, timeout: Optional[float] = None
        ) -> Tuple[Optional[bytes], int, int]: ...
        def read_wait(
            self, read_index: Union[int, AtomicCursor], timeout: Optional[float] = None
        ) -> Tuple[Optional[bytes], int, int]: ...
        @overload  # type: ignore[override]
        def read_async(
            self, read_index: int, timeout: Optional[float] = None
        ) -> Coroutine[Any, Any, Tuple[Optional[bytes], int, int]]: ...
        @overload
        def read_async(
            self, read_index: AtomicCursor, timeout: Optional[float] = None
        ) -> Coroutine[Any, Any, Tuple[Optional[bytes], int, int]]: ...
        def read_async(
            self, read_index: Union[int, AtomicCursor], timeout: Optional[float] = None
        ) -> Coroutine[Any, Any, Tuple[Optional[bytes], int, int]]: ...
        def read_last(self) -> Tuple[Optional[bytes], int]: ...  # type: ignore[override]


__all__ = ["SlickQueue"]
