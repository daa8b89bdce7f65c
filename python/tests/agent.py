"""A queue client for interop tests, run as a separate process by either
implementation: this project's ``slick_queue_py`` or the original pure-Python
``slick-queue-py`` 2.3.0 (whichever the interpreter has).

    python agent.py COMMAND JSON_ARGS

prints one JSON object on stdout. Where the two APIs differ (the original's
``read(AtomicCursor)`` returns a 3-tuple and its ``read_last()`` a
``(data, size)`` pair), the agent adapts, so tests drive both the same way.

Records carry ``(producer, seq, n)`` in their first 12 bytes followed by a
pattern derived from them, filling all ``n * element_size`` bytes, so a
reader can check every byte it got.
"""

import json
import os
import struct
import sys
import time

from slick_queue_py import AtomicCursor, QueueTraits, SlickQueue

OURS = hasattr(SlickQueue, "read_wait")  # only this project's package has it
HEADER = struct.Struct("<IIi")


def payload(producer, seq, n, element_size):
    """The full content of record (producer, seq) of n elements."""
    total = n * element_size
    head = HEADER.pack(producer, seq, n)
    body = bytes((producer * 31 + seq * 7 + k) & 0xFF for k in range(total - len(head)))
    return (head + body)[:total]


def decode(data, element_size):
    """(producer, seq, n, intact) of a record's bytes."""
    producer, seq, n = HEADER.unpack_from(data, 0)
    intact = len(data) == n * element_size and data == payload(producer, seq, n, element_size)
    return producer, seq, n, intact


class NoReadLast(QueueTraits):
    enable_read_last = False


def open_queue(a):
    kwargs = {"name": a["name"], "element_size": a["element_size"]}
    if a.get("size"):
        kwargs["size"] = a["size"]
    if a.get("items_per_slot"):
        kwargs["items_per_slot"] = a["items_per_slot"]
    if a.get("read_last") is False:
        kwargs["traits"] = NoReadLast
    return SlickQueue(**kwargs)


def open_cursor(name):
    """Attaches to the shared cursor segment without letting this process's
    resource tracker unlink it at exit (Python < 3.13 registers every
    attach), which would destroy it for the other processes."""
    from multiprocessing import shared_memory

    try:
        shm = shared_memory.SharedMemory(name=name, track=False)
    except TypeError:
        shm = shared_memory.SharedMemory(name=name)
        from multiprocessing import resource_tracker

        resource_tracker.unregister(shm._name, "shared_memory")
    return shm


def record_lengths(a, count):
    lengths = a.get("lengths") or [1]
    return [lengths[i % len(lengths)] for i in range(count)]


def wait_for_go(a):
    """A start barrier: creates the file a['ready'] (this agent is set up),
    then waits until the file a['go'] exists, so that a test can start
    several agents at the same moment."""
    if a.get("ready"):
        open(a["ready"], "w").close()
    go = a.get("go")
    while go and not os.path.exists(go):
        time.sleep(0.001)


def cmd_produce(a):
    q = open_queue(a)
    es = q.element_size
    wait_for_go(a)
    use_write = a.get("method") == "write"
    for seq, n in enumerate(record_lengths(a, a["count"])):
        data = payload(a["producer"], seq, n, es)
        if use_write:
            q.write(data)
        else:
            idx = q.reserve(n)
            for k in range(n):
                q[idx + k][:] = data[k * es:(k + 1) * es]
            q.publish(idx, n)
        if a.get("pace"):
            time.sleep(a["pace"])
    q.close()
    return {"produced": a["count"], "impl": "ours" if OURS else "peer"}


def cmd_consume(a):
    """Reads with a private cursor until `expect` records arrived (or the
    deadline, a safety net, passed)."""
    q = open_queue(a)
    es = q.element_size
    cursor = a.get("start", 0)
    got, bad = [], 0
    deadline = time.monotonic() + a.get("deadline", 60)
    while len(got) < a["expect"] and time.monotonic() < deadline:
        if OURS:
            data, size, cursor = q.read_wait(cursor, 0.2)
        else:
            data, size, cursor = q.read(cursor)
        if data is None:
            if not OURS:
                time.sleep(0.0005)
            continue
        producer, seq, n, intact = decode(data, es)
        bad += (not intact) or n != size
        got.append([producer, seq, n])
    loss = q.loss_count()
    q.close()
    return {"records": got, "bad": bad, "loss": loss}


def cmd_steal(a):
    """Claims records at the shared cursor until none is left (or `max`
    records are claimed)."""
    q = open_queue(a)
    es = q.element_size
    shm = open_cursor(a["cursor"])
    cursor = AtomicCursor(shm.buf, 0)
    wait_for_go(a)
    got, bad = [], 0
    while len(got) < a.get("max", float("inf")):
        result = q.read(cursor)
        data, size = result[0], result[1]  # the original returns a 3-tuple
        if data is None:
            break
        producer, seq, n, intact = decode(data, es)
        bad += (not intact) or n != size
        got.append([producer, seq])
        if a.get("pace"):
            time.sleep(a["pace"])
    del cursor
    shm.close()
    q.close()
    return {"records": got, "bad": bad}


def cmd_read_last(a):
    q = open_queue(a)
    last = q.read_last()
    if not OURS:
        last = last[0]  # the original returns (data, size)
    q.close()
    if last is None:
        return {"last": None}
    producer, seq, n, intact = decode(last, a["element_size"])
    return {"last": [producer, seq, n], "intact": intact, "len": len(last)}


def cmd_open_error(a):
    """Tries to open the queue; reports the exception it raised."""
    try:
        q = open_queue(a)
    except Exception as e:  # the point is to report it
        return {"error": type(e).__name__, "message": str(e)}
    q.close()
    return {"error": None}


def cmd_info(a):
    q = open_queue(a)
    info = {
        "size": q.size,
        "element_size": q.element_size,
        "items_per_slot": q.items_per_slot,
        "impl": "ours" if OURS else "peer",
    }
    q.close()
    return info


COMMANDS = {
    "produce": cmd_produce,
    "consume": cmd_consume,
    "steal": cmd_steal,
    "read_last": cmd_read_last,
    "open_error": cmd_open_error,
    "info": cmd_info,
}

if __name__ == "__main__":
    result = COMMANDS[sys.argv[1]](json.loads(sys.argv[2]))
    print(json.dumps(result))
