"""q[index] views must never dangle: they keep the queue memory (heap block
or shared mapping) alive after close() and after the queue object is gone,
and the memory goes away once the last view does."""

import gc
import struct

from slick_queue_py import SlickQueue


def mapped(name):
    """Whether /dev/shm/<name> is mapped into this process."""
    with open("/proc/self/maps") as f:
        return any(line.rstrip().endswith(f"/dev/shm/{name}") for line in f)


def test_local_view_survives_close_and_the_queue_object():
    q = SlickQueue(size=8, element_size=16)
    idx = q.reserve()
    view = q[idx]
    part = view[4:12]
    q.publish(idx)
    q.close()
    view[:4] = b"abcd"
    part[:] = b"01234567"
    del q
    gc.collect()
    assert bytes(view) == b"abcd01234567" + bytes(4)
    assert bytes(part.cast("Q")) == b"01234567"


def test_shared_view_keeps_the_mapping_until_the_last_view_goes(shm_name):
    name = shm_name()
    q = SlickQueue(name=name, size=8, element_size=16)
    idx = q.reserve()
    q.publish(idx)
    view = q[idx]
    tail = view[8:]
    q.close()
    assert mapped(name), "a live view keeps the mapping"
    struct.pack_into("<Q", view, 0, 0x1122334455667788)
    tail[:2] = b"zz"
    # Another handle sees the writes: the view is into the shared segment.
    other = SlickQueue(name=name, element_size=16)
    data, size, _ = other.read(0)
    assert struct.unpack_from("<Q", data)[0] == 0x1122334455667788 and data[8:10] == b"zz"
    other.close()
    del q, view
    gc.collect()
    assert mapped(name), "a slice of a view keeps it too"
    del tail
    gc.collect()
    assert not mapped(name), "the mapping goes with the last view"


def test_close_without_views_unmaps_at_once(shm_name):
    name = shm_name()
    q = SlickQueue(name=name, size=8, element_size=16)
    q.reserve()
    assert mapped(name)
    q.close()
    assert not mapped(name)


def test_views_and_queue_dropped_in_any_order(shm_name):
    name = shm_name()
    views = []
    for _ in range(3):
        q = SlickQueue(name=name, size=64, element_size=8)
        views += [q[i] for i in range(0, 64, 7)]
        if len(views) % 2:
            q.close()
        del q
        gc.collect()
    for i, v in enumerate(views):
        v[:] = struct.pack("<Q", i)
    reader = SlickQueue(name=name, element_size=8)
    assert bytes(reader[63]) == struct.pack("<Q", len(views) - 1)
    reader.close()
    views.clear()
    del v
    gc.collect()
    assert not mapped(name)
