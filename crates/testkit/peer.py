"""Roles played by the PyPI peer slick-queue-py 2.3.0 in the Rust tests.

The one driver of the peer for the test suites of the workspace (the core's
interop tests, the CLI's tests); `testkit::peer_command` runs it. Run with
the interpreter of the virtualenv that has slick-queue-py==2.3.0 installed
(it shares the module name slick_queue_py with our own package).

    produce, consume, steal, read_last, open: records in the format of the
        Rust examples (examples/common/mod.rs): bytes 0..8 sequence (u64 LE),
        8..12 producer id (u32 LE), every later byte k of the record is
        (seq + k) & 0xFF.
    create: creates the queue (--size, --es, optional --ips) and closes it.
    publish: one record per --record HEX, as many elements as it needs.
    dump: every record from index 0 as "index size hex" lines.
    consume_bridged: --count records of the bridge tests' format (bytes 0..8
        sequence, 8..12 the record's length in elements, later bytes k equal
        (seq * 7 + k) & 0xFF), then a summary line.
"""
import argparse
import struct
import sys
import time

import slick_queue_py
from slick_queue_py import AtomicCursor, QueueTraits, SlickQueue

assert slick_queue_py.__version__ == "2.3.0", slick_queue_py.__version__


class NoReadLast(QueueTraits):
    enable_read_last = False


def fill(nbytes, ident, seq):
    b = bytearray((seq + k) & 0xFF for k in range(nbytes))
    b[0:8] = struct.pack("<Q", seq)
    if nbytes >= 12:
        b[8:12] = struct.pack("<I", ident)
    return bytes(b)


def check(data):
    if len(data) < 8:
        return None
    seq = struct.unpack_from("<Q", data, 0)[0]
    ident = struct.unpack_from("<I", data, 8)[0] if len(data) >= 12 else 0
    start = 12 if len(data) >= 12 else 8
    for k in range(start, len(data)):
        if data[k] != (seq + k) & 0xFF:
            return None
    return ident, seq


def attach(a, create_ok=True):
    traits = NoReadLast if a.no_read_last else None
    kw = {}
    if a.ips:
        kw["items_per_slot"] = a.ips
    if a.size and create_ok:
        return SlickQueue(name=a.name, size=a.size, element_size=a.es, traits=traits, **kw)
    deadline = time.time() + 10
    while True:
        try:
            return SlickQueue(name=a.name, element_size=a.es, traits=traits, **kw)
        except FileNotFoundError:
            if time.time() > deadline:
                raise
            time.sleep(0.01)


def untracked_shm(name):
    """Attach to a SharedMemory without handing it to the resource tracker
    (Python < 3.13 registers on attach and unlinks at exit)."""
    from multiprocessing import resource_tracker, shared_memory

    shm = shared_memory.SharedMemory(name=name)
    try:
        resource_tracker.unregister(shm._name, "shared_memory")
    except Exception:
        pass
    return shm


def produce(a):
    q = attach(a)
    nbytes = a.record_len * a.es
    for seq in range(a.count):
        n = a.record_len if not a.vary else 1 + seq % a.record_len
        idx = q.reserve(n)
        data = fill(n * a.es, a.id, seq)
        for e in range(n):
            q[idx + e][:] = data[e * a.es:(e + 1) * a.es]
        q.publish(idx, n)
    print(f"produced={a.count} id={a.id} nbytes={nbytes}")
    q.close()


def consume(a):
    q = attach(a)
    expected = a.count * a.producers
    cursor, received, bad, reordered = 0, 0, 0, 0
    nxt = {}
    last = time.time()
    while received + q.loss_count() < expected:
        data, size, cursor = q.read(cursor)
        if data is None:
            if time.time() - last > a.timeout:
                break
            time.sleep(0.0002)
            continue
        last = time.time()
        received += 1
        r = check(data[: size * a.es])
        if r is None:
            bad += 1
            continue
        ident, seq = r
        if seq < nxt.get(ident, 0):
            reordered += 1
        nxt[ident] = seq + 1
    ok = bad == 0 and reordered == 0 and received + q.loss_count() >= expected
    print(f"received={received} lost={q.loss_count()} bad={bad} reordered={reordered} "
          f"producers_seen={len(nxt)} {'ok' if ok else 'FAILED'}")
    q.close()
    sys.exit(0 if ok else 1)


def steal(a):
    q = attach(a)
    shm = untracked_shm(a.cursor)
    cur = AtomicCursor(shm.buf, 0)
    last = time.time()
    out = []
    while True:
        res = q.read(cur)  # 2.3.0 returns (data, size, index)
        data, size = res[0], res[1]
        if data is None:
            if time.time() - last > a.timeout:
                break
            time.sleep(0.0002)
            continue
        last = time.time()
        r = check(data[: size * a.es])
        out.append("claimed %d %d" % r if r else "claimed bad")
    print("\n".join(out))
    cur.release()
    del cur
    q.close()
    shm.close()


def read_last(a):
    q = attach(a)
    data, size = q.read_last()
    if data is None:
        print("last none")
    else:
        r = check(data[: size * a.es])
        print("last size=%d id=%d seq=%d" % ((size,) + r) if r else "last bad")
    q.close()


def open_only(a):
    try:
        q = attach(a)
    except Exception as e:  # the test inspects the type and message
        print(f"error={type(e).__name__}: {e}")
        sys.exit(3)
    print(f"opened size={q.size} ips={q.items_per_slot} es={q.element_size}")
    q.close()


def create(a):
    kw = {"items_per_slot": a.ips} if a.ips else {}
    SlickQueue(name=a.name, size=a.size, element_size=a.es, **kw).close()


def publish(a):
    q = SlickQueue(name=a.name, element_size=a.es)
    for h in a.record:
        data = bytes.fromhex(h)
        n = max(1, -(-len(data) // a.es))
        i = q.reserve(n)
        padded = data + bytes(n * a.es - len(data))
        for k in range(n):
            q[i + k][:] = padded[k * a.es:(k + 1) * a.es]
        q.publish(i, n)
    q.close()


def dump(a):
    q = SlickQueue(name=a.name, element_size=a.es)
    cur = 0
    while True:
        data, size, new = q.read(cur)
        if data is None:
            break
        print(new - size if q.items_per_slot == 1 else cur, size, data.hex())
        cur = new
    q.close()


def consume_bridged(a):
    q = SlickQueue(name=a.name, element_size=a.es)
    es = a.es
    cur, got, bad, reordered, multi, nxt = 0, 0, 0, 0, 0, 0
    last = time.time()
    while got < a.count:
        data, size, new = q.read(cur)
        if data is None:
            if time.time() - last > a.timeout:
                break
            time.sleep(0.0002)
            continue
        cur = new
        last = time.time()
        got += 1
        b = bytes(data[: size * es])
        seq = struct.unpack_from("<Q", b, 0)[0]
        n = struct.unpack_from("<I", b, 8)[0]
        ok = n == size and len(b) == size * es and all(b[k] == (seq * 7 + k) & 0xFF for k in range(12, len(b)))
        if not ok:
            bad += 1
        if seq != nxt:
            reordered += 1
        nxt = seq + 1
        if size > 1:
            multi += 1
    print(f"received={got} bad={bad} out_of_order={reordered} multi={multi} lost={q.loss_count()} end={cur}")
    q.close()


ROLES = {"produce": produce, "consume": consume, "steal": steal, "read_last": read_last, "open": open_only,
         "create": create, "publish": publish, "dump": dump, "consume_bridged": consume_bridged}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("role", choices=sorted(ROLES))
    p.add_argument("name")
    p.add_argument("--es", type=int, required=True)
    p.add_argument("--count", type=int, default=0)
    p.add_argument("--id", type=int, default=1)
    p.add_argument("--size", type=int, default=0)
    p.add_argument("--ips", type=int, default=0)
    p.add_argument("--record-len", type=int, default=1)
    p.add_argument("--vary", action="store_true", help="record lengths 1..record_len")
    p.add_argument("--producers", type=int, default=1)
    p.add_argument("--cursor")
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--no-read-last", action="store_true")
    p.add_argument("--record", action="append", default=[], help="publish: one record's bytes in hex")
    a = p.parse_args()
    ROLES[a.role](a)


if __name__ == "__main__":
    main()
