"""Waiting without spinning: ``read_wait`` and ``read_async`` sleep on the
queue's doorbell (see docs/DESIGN.md, "The doorbell"), wake for publishes of
other processes, still see records of the original slick-queue-py (which
never rings), stop on ``close()``, and the doorbell object goes with the
queue. Only correctness is asserted; the time limits are generous safety
nets, not performance checks."""

import asyncio
import subprocess
import sys
import threading
import time

import pytest

from conftest import PROCESS_TIMEOUT, assert_clean_exit, shm_exists
from slick_queue_py import AtomicCursor, SlickQueue

ES = 16

WRITE_LATER = """
import sys, time
from slick_queue_py import SlickQueue
name, payload, delay = sys.argv[1], sys.argv[2].encode(), float(sys.argv[3])
q = SlickQueue(name=name, element_size={es})
time.sleep(delay)
idx = q.reserve(1)
q[idx][:len(payload)] = payload
q.publish(idx, 1)
q.close()
""".replace("{es}", str(ES))


def write_later(python, name, payload, delay=0.3):
    return subprocess.Popen(
        [python, "-c", WRITE_LATER, name, payload, str(delay)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(proc, what):
    out, err = proc.communicate(timeout=PROCESS_TIMEOUT)
    assert_clean_exit(subprocess.CompletedProcess(proc.args, proc.returncode, out, err), what)


def test_read_wait_wakes_for_a_publish_of_another_process(shm_name):
    shm_name = shm_name()
    q = SlickQueue(name=shm_name, size=64, element_size=ES)
    cursor = 0
    for i in range(3):
        payload = f"rec{i}"
        proc = write_later(sys.executable, shm_name, payload, delay=0.1)
        data, size, cursor = q.read_wait(cursor, timeout=60)
        finish(proc, "writer")
        assert data is not None and data[: len(payload)] == payload.encode()
        assert (size, cursor) == (1, i + 1)
    q.close()


def test_read_wait_sees_records_of_the_original_package(peer_python, shm_name):
    shm_name = shm_name()
    # The original slick-queue-py never rings the doorbell: the sleeping
    # reader finds its record on its bounded poll (every millisecond).
    q = SlickQueue(name=shm_name, size=64, element_size=ES)
    proc = write_later(peer_python, shm_name, "from-peer", delay=0.2)
    data, size, cursor = q.read_wait(0, timeout=60)
    finish(proc, "peer writer")
    assert data is not None and data[:9] == b"from-peer"
    assert (size, cursor) == (1, 1)
    q.close()


@pytest.mark.parametrize("shared", [False, True])
def test_close_wakes_read_wait(shm_name, shared):
    shm_name = shm_name()
    q = SlickQueue(name=shm_name, size=64, element_size=ES)
    outcome = {}

    def wait():
        cursor = AtomicCursor(bytearray(8)) if shared else 0
        try:
            outcome["result"] = q.read_wait(cursor, timeout=None)
        except ValueError as e:
            outcome["error"] = e

    t = threading.Thread(target=wait)
    t.start()
    time.sleep(0.2)  # let it fall asleep (a close() before the wait also ends it)
    q.close()
    t.join(timeout=30)
    assert not t.is_alive(), "close() did not wake read_wait"
    assert "closed" in str(outcome.get("error")), outcome


def test_doorbell_object_goes_with_the_queue(shm_name):
    shm_name = shm_name()
    q = SlickQueue(name=shm_name, size=64, element_size=ES)
    assert shm_exists(shm_name + ".doorbell")
    assert q.remove_shm()
    assert not shm_exists(shm_name) and not shm_exists(shm_name + ".doorbell")
    q.close()
    q = SlickQueue(name=shm_name, size=64, element_size=ES)
    assert SlickQueue.remove(shm_name)
    assert not shm_exists(shm_name + ".doorbell")
    q.close()


# --- read_async ----------------------------------------------------------------


def helper_threads():
    return [t for t in threading.enumerate() if t.name == "slick-queue read_async"]


def test_read_async_returns_what_read_wait_returns():
    q = SlickQueue(size=8, element_size=4)
    q.write(b"ping")

    async def main():
        assert await q.read_async(0) == (b"ping", 1, 1)
        assert await q.read_async(1, timeout=0.05) == (None, 0, 1)
        assert await q.read_async(AtomicCursor(bytearray(8))) == (b"ping", 1)
        assert await q.read_async(1, timeout=0) == (None, 0, 1)

    asyncio.run(main())


def test_read_async_follows_the_api_generation_of_the_queue():
    # In slick-queue-py 2.3.0's shapes an AtomicCursor read is (data, size,
    # read_index), and (None, 0, -1) when nothing comes, also after a timeout.
    from slick_queue_py import api10, api23

    async def main():
        q = api23.SlickQueue(size=8, element_size=4)
        c = AtomicCursor(bytearray(8))
        assert await q.read_async(c, timeout=0.05) == (None, 0, -1)
        assert await q.read_async(c, timeout=0) == (None, 0, -1)
        q.write(b"ping")
        assert await q.read_async(c, timeout=1.0) == (b"ping", 1, 0)
        q.close()
        q = api10.SlickQueue(size=8, element_size=4)
        c = AtomicCursor(bytearray(8))
        assert await q.read_async(c, timeout=0.05) == (None, 0)
        q.close()

    asyncio.run(main())


def test_read_async_takes_a_timeout_too_large_for_a_float():
    # As in read_wait: an int too large for a float waits without a limit.
    q = SlickQueue(size=8, element_size=4)

    async def main():
        asyncio.get_running_loop().call_later(0.05, q.write, b"ping")
        assert await q.read_async(0, timeout=10**400) == (b"ping", 1, 1)

    asyncio.run(main())
    q.close()


def test_read_async_validates_arguments_at_the_call():
    q = SlickQueue(size=8, element_size=4)
    with pytest.raises(TypeError):
        q.read_async("0")
    with pytest.raises(ValueError, match="timeout"):
        q.read_async(0, -1.0)
    q.close()
    with pytest.raises(ValueError, match="closed"):
        q.read_async(0)


def test_read_async_many_coroutines_one_helper_thread_and_a_free_event_loop(shm_name):
    shm_name = shm_name()
    q = SlickQueue(name=shm_name, size=256, element_size=ES)
    n = 50

    async def main():
        ticks = 0
        stop = asyncio.Event()

        async def ticker():
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                await asyncio.sleep(0.001)

        tick_task = asyncio.create_task(ticker())
        waits = [asyncio.create_task(q.read_async(0, timeout=60)) for _ in range(n)]
        await asyncio.sleep(0.2)
        assert len(helper_threads()) == 1, "one helper thread per queue, not per coroutine"
        ticks_before = ticks
        proc = write_later(sys.executable, shm_name, "fanout", delay=0.1)
        results = await asyncio.gather(*waits)
        finish(proc, "writer")
        stop.set()
        await tick_task
        return results, ticks_before

    results, ticks_before = asyncio.run(main())
    assert ticks_before > 10, "the event loop was blocked while coroutines waited"
    for data, size, cursor in results:
        assert data is not None and data[:6] == b"fanout" and (size, cursor) == (1, 1)
    deadline = time.monotonic() + 10
    while helper_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not helper_threads(), "the helper thread outlived its last waiter"
    q.close()


def test_read_async_work_stealing_each_record_once():
    q = SlickQueue(size=64, element_size=8)
    cursor = AtomicCursor(bytearray(8))

    async def main():
        waits = [asyncio.create_task(q.read_async(cursor, timeout=60)) for _ in range(10)]
        await asyncio.sleep(0.05)
        for i in range(10):
            q.write(i.to_bytes(8, "little"))
        return await asyncio.gather(*waits)

    got = sorted(int.from_bytes(data, "little") for data, _ in asyncio.run(main()))
    assert got == list(range(10))


def test_read_async_timeout_and_cancellation_withdraw_the_wait():
    q = SlickQueue(size=64, element_size=8)

    async def main():
        assert await q.read_async(0, timeout=0.05) == (None, 0, 0)
        task = asyncio.create_task(q.read_async(0))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        q.write(b"after")
        return await q.read_async(0, timeout=10)

    data, size, cursor = asyncio.run(main())
    assert data[:5] == b"after" and (size, cursor) == (1, 1)


def test_close_wakes_read_async():
    q = SlickQueue(size=64, element_size=8)

    async def main():
        task = asyncio.create_task(q.read_async(0))
        await asyncio.sleep(0.1)
        q.close()
        with pytest.raises(ValueError, match="closed"):
            await asyncio.wait_for(task, 30)

    asyncio.run(main())


@pytest.mark.parametrize("bad", [0, -1, 0.0, float("nan"), -(2**80)])
def test_poll_interval_must_be_a_number_of_seconds_above_zero(bad):
    with pytest.raises(ValueError, match="poll_interval must be None or a number of seconds > 0"):
        SlickQueue(size=16, element_size=ES, poll_interval=bad)


def test_poll_interval_of_another_type_is_a_type_error():
    with pytest.raises(TypeError):
        SlickQueue(size=16, element_size=ES, poll_interval="1ms")


def test_a_long_poll_interval_loses_nothing(peer_python, shm_name):
    # poll_interval only sets how often a sleeping reader looks by itself:
    # our producer's record rings the doorbell, the original package's is
    # found when the wait next looks (read_wait looks at least every 50 ms).
    shm_name = shm_name()
    q = SlickQueue(name=shm_name, size=64, element_size=ES, poll_interval=2**80)
    cursor = 0
    for python, payload in ((sys.executable, "ours"), (peer_python, "peer")):
        proc = write_later(python, shm_name, payload, delay=0.1)
        data, size, cursor = q.read_wait(cursor, timeout=60)
        finish(proc, payload + " writer")
        assert data is not None and data[: len(payload)] == payload.encode()
        assert size == 1
    assert cursor == 2
    q.close()
