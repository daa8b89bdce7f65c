"""Several Python threads producing and consuming on one local queue."""

import struct
import threading
from collections import defaultdict

from slick_queue_py import AtomicCursor, SlickQueue

RECORD = struct.Struct("<II")  # (producer, seq)
PRODUCERS = 4
PER_PRODUCER = 500


def produce(q, producer):
    """Alternates the three ways of publishing; records of 1 or 2 elements."""
    es = q.element_size
    for seq in range(PER_PRODUCER):
        n = 1 + seq % 2
        head = RECORD.pack(producer, seq)
        if seq % 3 == 0:
            q.write(head + bytes(n * es - len(head)))
        elif seq % 3 == 1:
            idx = q.reserve(n)
            q[idx][: len(head)] = head
            q.publish(idx, n)
        else:
            idx = q.reserve(n)
            for k in range(n):
                q[idx + k][:] = bytes([k]) * es
            q[idx][: len(head)] = head
            q.publish(idx, n)


def check_order(records):
    by_producer = defaultdict(list)
    for producer, seq in records:
        by_producer[producer].append(seq)
    assert sorted(by_producer) == list(range(PRODUCERS))
    for seqs in by_producer.values():
        assert seqs == list(range(PER_PRODUCER))


def test_broadcast_consumers_each_see_every_record():
    # 4 * 500 records of 1.5 elements on average fit in 4096: no lapping.
    q = SlickQueue(size=4096, element_size=16)
    total = PRODUCERS * PER_PRODUCER
    results = {}

    def consume(k):
        got, cursor = [], 0
        while len(got) < total:
            if k % 2:
                data, size, cursor = q.read_wait(cursor, timeout=0.05)
                batch = [] if data is None else [data]
            else:
                batch, cursor = q.read_batch(cursor, 64)
            for data in batch:
                assert len(data) % q.element_size == 0
                got.append(RECORD.unpack_from(data))
        results[k] = got

    consumers = [threading.Thread(target=consume, args=(k,)) for k in range(3)]
    producers = [threading.Thread(target=produce, args=(q, p)) for p in range(PRODUCERS)]
    for t in consumers + producers:
        t.start()
    for t in producers + consumers:
        t.join(timeout=300)
        assert not t.is_alive()
    assert sorted(results) == [0, 1, 2]
    for got in results.values():
        check_order(got)
    assert q.loss_count() == 0


def test_work_stealing_threads_split_every_record_exactly_once():
    q = SlickQueue(size=4096, element_size=16)
    total = PRODUCERS * PER_PRODUCER
    cursor = AtomicCursor(bytearray(8))
    claimed = defaultdict(list)
    done = threading.Event()
    lock = threading.Lock()
    count = [0]

    def steal(k):
        while not done.is_set():
            if k == 0:
                batch = q.read_batch(cursor, 16)
            else:
                data, size = q.read_wait(cursor, timeout=0.05)
                batch = [] if data is None else [data]
            for data in batch:
                claimed[k].append(RECORD.unpack_from(data))
            with lock:
                count[0] += len(batch)
                if count[0] == total:
                    done.set()

    stealers = [threading.Thread(target=steal, args=(k,)) for k in range(3)]
    producers = [threading.Thread(target=produce, args=(q, p)) for p in range(PRODUCERS)]
    for t in stealers + producers:
        t.start()
    for t in producers + stealers:
        t.join(timeout=300)
        assert not t.is_alive()
    everything = [r for records in claimed.values() for r in records]
    assert sorted(everything) == sorted((p, s) for p in range(PRODUCERS) for s in range(PER_PRODUCER))
    # Each stealer's own claims are in publish order per producer.
    for records in claimed.values():
        per = defaultdict(list)
        for producer, seq in records:
            per[producer].append(seq)
        assert all(seqs == sorted(seqs) for seqs in per.values())


def test_reserve_from_many_threads_gives_disjoint_ranges():
    q = SlickQueue(size=1 << 16, element_size=1)
    ranges = []
    lock = threading.Lock()

    def reserve_many():
        mine = [(q.reserve(3), 3) for _ in range(2000)]
        with lock:
            ranges.extend(mine)

    threads = [threading.Thread(target=reserve_many) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    starts = sorted(start for start, _ in ranges)
    assert starts == list(range(0, 3 * 8000, 3))
