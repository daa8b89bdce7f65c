"""``SlickQueue.read_async``: asyncio waits served by one helper thread per
queue.

Every coroutine waiting on a queue adds a request (its cursor and a future of
its event loop) to that queue's ``_Waiter``. The waiter's thread, started by
the first request and ended when no request is left, tries every pending
cursor with the non-blocking ``read()`` and, when none has a record, sleeps
on the queue's doorbell (``_wait_published``, GIL released) until something
is published at or past the smallest cursor, the doorbell rings, or 50 ms
pass. Results reach the coroutines through ``call_soon_threadsafe``, so the
event loop never blocks and costs no thread per coroutine.
"""

import asyncio
import threading
from typing import Any, Dict, List, Optional, Tuple

from ._native import AtomicCursor, SlickQueue

# The longest single sleep of a helper thread (it also re-checks cancelled
# requests at that rate).
_SLICE = 0.05

_registry_lock = threading.Lock()
_waiters: Dict[int, "_Waiter"] = {}


class _Request:
    __slots__ = ("loop", "future", "cursor")

    def __init__(self, loop: asyncio.AbstractEventLoop, future: "asyncio.Future[Any]", cursor: Any) -> None:
        self.loop = loop
        self.future = future
        self.cursor = cursor

    def position(self) -> int:
        c = self.cursor
        return int(c.load()) if isinstance(c, AtomicCursor) else int(c)

    def deliver(self, result: Any, error: Optional[BaseException] = None) -> None:
        def settle() -> None:
            if self.future.done():
                return
            if error is not None:
                self.future.set_exception(error)
            else:
                self.future.set_result(result)

        try:
            self.loop.call_soon_threadsafe(settle)
        except RuntimeError:
            pass  # the event loop is closed: nobody waits any more


class _Waiter:
    """The helper thread of one queue and its pending requests."""

    def __init__(self, queue: SlickQueue) -> None:
        self.queue = queue
        self.pending: List[_Request] = []
        self.thread = threading.Thread(target=self._run, name="slick-queue read_async", daemon=True)

    def _run(self) -> None:
        q = self.queue
        while True:
            with _registry_lock:
                self.pending = [r for r in self.pending if not r.future.done()]
                if not self.pending:
                    if _waiters.get(id(q)) is self:
                        del _waiters[id(q)]
                    return
                pending = list(self.pending)
            served = False
            for r in pending:
                if r.future.done():
                    continue  # cancelled (or timed out) meanwhile
                try:
                    res = q.read(r.cursor)
                except BaseException as e:  # closed queue, released cursor
                    self._drop(r)
                    r.deliver(None, e)
                    served = True
                    continue
                if res[0] is not None:
                    self._drop(r)
                    r.deliver(res)
                    served = True
                elif not isinstance(r.cursor, AtomicCursor):
                    r.cursor = res[2]  # followed a wrap marker
            if served:
                continue
            try:
                position = min(r.position() for r in pending)
                q._wait_published(position, _SLICE)
            except BaseException:
                continue  # closed or released: the next read() reports it

    def _drop(self, r: _Request) -> None:
        with _registry_lock:
            try:
                self.pending.remove(r)
            except ValueError:
                pass


def _submit(queue: SlickQueue, request: _Request) -> None:
    with _registry_lock:
        w = _waiters.get(id(queue))
        if w is None or w.queue is not queue:
            w = _Waiter(queue)
            _waiters[id(queue)] = w
            w.pending.append(request)
            w.thread.start()
        else:
            # A helper asleep for other cursors looks at this one when the
            # doorbell rings (any publish of ours), when something arrives
            # at or past the smallest cursor it waits for, or after _SLICE.
            w.pending.append(request)


async def read_async(queue: SlickQueue, cursor: Any, timeout: Optional[float] = None) -> Tuple[Any, ...]:
    """See ``SlickQueue.read_async``."""
    res = queue.read(cursor)
    if res[0] is not None:
        return res
    if not isinstance(cursor, AtomicCursor):
        cursor = res[2]
    if timeout is not None and timeout <= 0:
        return res
    loop = asyncio.get_running_loop()
    future: "asyncio.Future[Any]" = loop.create_future()
    request = _Request(loop, future, cursor)
    _submit(queue, request)
    try:
        if timeout is None:
            return await future  # type: ignore[no-any-return]
        return await asyncio.wait_for(future, timeout)  # type: ignore[no-any-return]
    except asyncio.TimeoutError:
        if isinstance(cursor, AtomicCursor):
            # read()'s empty result, in the queue's API generation: (None, 0)
            # by default, (None, 0, -1) in slick-queue-py 2.3.0's shapes.
            return res
        return (None, 0, request.cursor)
    finally:
        if not future.done():
            future.cancel()
