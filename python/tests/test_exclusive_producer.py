"""SlickQueue(..., exclusive_producer=True): the caller promises to be the
queue's only producer; reserving becomes a plain load and store. The records
are the same bytes as the default producer's, and a second exclusive
producer of this library on a segment is refused (RuntimeError) until the
first is closed, in this process or another one."""

import textwrap

import pytest

from conftest import assert_clean_exit, run_python
from slick_queue_py import SlickQueue


def test_exclusive_producer_records_read_like_any_other(shm_name):
    name = shm_name("excl")
    prod = SlickQueue(name=name, size=64, element_size=8, exclusive_producer=True)
    reader = SlickQueue(name=name, element_size=8)
    for v in range(200):
        if v % 3 == 0:
            assert prod.write(v.to_bytes(8, "little") * 2) >= 0  # two elements
        else:
            i = prod.reserve()
            prod[i][:8] = v.to_bytes(8, "little")
            prod.publish(i)
    assert int.from_bytes(reader.read_last()[:8], "little") == 199
    # A reader from the start sees the records still in the ring, in order.
    got = []
    cursor = 0  # lapped: skips to what is still in the ring
    while True:
        data, size, cursor = reader.read(cursor)
        if data is None:
            break
        got.append(int.from_bytes(data[:8], "little"))
    assert got == sorted(got) and got[-1] == 199
    prod.close()
    reader.close()


def test_same_bytes_as_the_default_producer(shm_name):
    queues = []
    for excl in (False, True):
        q = SlickQueue(name=shm_name("bytes"), size=16, element_size=8, exclusive_producer=excl)
        for v in range(40):
            q.write(v.to_bytes(8, "little") * (1 + v % 3))
        queues.append(q)
    with open(f"/dev/shm/{queues[0].name}", "rb") as a, open(f"/dev/shm/{queues[1].name}", "rb") as b:
        assert a.read() == b.read()
    for q in queues:
        q.close()


def test_a_second_exclusive_producer_is_refused(shm_name):
    name = shm_name("refuse")
    first = SlickQueue(name=name, size=64, element_size=8, exclusive_producer=True)
    with pytest.raises(RuntimeError, match="already has an exclusive producer"):
        SlickQueue(name=name, element_size=8, exclusive_producer=True)
    # Another process is refused too.
    code = textwrap.dedent(
        f"""
        from slick_queue_py import SlickQueue
        try:
            SlickQueue(name={name!r}, element_size=8, exclusive_producer=True)
        except RuntimeError as e:
            print("refused:", e)
        else:
            print("claimed")
        """
    )
    out = run_python(["-c", code])
    assert_clean_exit(out, "second process")
    assert out.stdout.startswith("refused:"), out.stdout
    # A reader (no promise) attaches; closing the producer frees the claim.
    SlickQueue(name=name, element_size=8).close()
    first.close()
    again = SlickQueue(name=name, element_size=8, exclusive_producer=True)
    assert again.reserve() == 0
    again.close()
