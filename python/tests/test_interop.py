"""Interop with the original pure-Python slick-queue-py 2.3.0, across real
processes over real shared memory.

The original has the same module name, so it runs in its own virtualenv
(``SLICK_PEER_PYTHON``); both sides run ``agent.py``. A missing peer fails
these tests (see ``conftest.peer_python``).
"""

import json
import os
import struct
import subprocess
import sys
import time
from collections import Counter, defaultdict
from multiprocessing import shared_memory

import pytest

from conftest import AGENT, PROCESS_TIMEOUT, assert_clean_exit, run_python
from slick_queue_py import SlickQueue

OURS = sys.executable

ES = 32


def agent(python, command, **args):
    """Runs an agent to completion and returns its JSON answer."""
    proc = run_python([AGENT, command, json.dumps(args)], python=python)
    assert_clean_exit(proc, f"agent {command} ({python})")
    return json.loads(proc.stdout)


def start_agent(python, command, **args):
    return subprocess.Popen(
        [python, str(AGENT), command, json.dumps(args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(proc, what="agent"):
    out, err = proc.communicate(timeout=PROCESS_TIMEOUT)
    assert_clean_exit(subprocess.CompletedProcess(proc.args, proc.returncode, out, err), what)
    return json.loads(out)


class Barrier:
    """Starts agents at the same moment: each gets its own `ready` file and
    the shared `go` file; `release()` waits until all are ready, then goes."""

    def __init__(self, tmp_path):
        self.dir = tmp_path
        self.go = str(tmp_path / "go")
        self.readies = []

    def args(self):
        ready = str(self.dir / f"ready{len(self.readies)}")
        self.readies.append(ready)
        return {"go": self.go, "ready": ready}

    def release(self, procs):
        deadline = time.monotonic() + PROCESS_TIMEOUT
        while not all(os.path.exists(r) for r in self.readies):
            assert time.monotonic() < deadline, "agents never got ready"
            assert all(p.poll() is None for p in procs), "an agent exited before the start"
            time.sleep(0.005)
        open(self.go, "w").close()


def python_of(impl, peer_python):
    return peer_python if impl == "peer" else OURS


def check_per_producer(records, expected_counts):
    """Every producer's records arrived once each, in publish order."""
    by_producer = defaultdict(list)
    for producer, seq, *_ in records:
        by_producer[producer].append(seq)
    assert {p: len(s) for p, s in by_producer.items()} == expected_counts
    for producer, seqs in by_producer.items():
        assert seqs == list(range(expected_counts[producer])), f"producer {producer} out of order"


def test_fresh_segments_have_identical_headers(peer_python, shm_name):
    """A queue created by either implementation starts with the same 64
    header bytes (marker, geometry, indices, init state) and control slots."""
    ours_name, peer_name = shm_name("hdr_ours"), shm_name("hdr_peer")
    q = SlickQueue(name=ours_name, size=64, element_size=ES)
    agent(peer_python, "info", name=peer_name, size=64, element_size=ES)
    with open(f"/dev/shm/{ours_name}", "rb") as f:
        ours = f.read(64 + 16 * 64)
    with open(f"/dev/shm/{peer_name}", "rb") as f:
        theirs = f.read(64 + 16 * 64)
    assert ours[24:28] == b"1QLS", "marker 0x534C5131 ('SLQ1', little-endian)"
    assert ours == theirs
    q.close()


@pytest.mark.parametrize("producer,consumer", [("peer", "ours"), ("ours", "peer")])
def test_one_implementation_reads_what_the_other_wrote(peer_python, shm_name, producer, consumer):
    name = shm_name("dir")
    lengths = [1, 3, 2]
    agent(python_of(producer, peer_python), "produce", name=name, size=1024, element_size=ES, producer=7,
          count=200, lengths=lengths)
    # The consumer opens by name only and adopts the creator's size.
    got = agent(python_of(consumer, peer_python), "consume", name=name, element_size=ES, expect=200)
    assert got["bad"] == 0 and got["loss"] == 0
    check_per_producer(got["records"], {7: 200})
    assert [r[2] for r in got["records"]] == [lengths[i % 3] for i in range(200)]


def test_producers_of_both_implementations_share_one_queue(peer_python, shm_name, tmp_path):
    name = shm_name("mix")
    q = SlickQueue(name=name, size=4096, element_size=ES)
    barrier = Barrier(tmp_path)
    common = dict(name=name, element_size=ES, count=300, lengths=[1, 2, 3])
    procs = [
        start_agent(peer_python, "produce", producer=1, **common, **barrier.args()),
        start_agent(peer_python, "produce", producer=2, **common, **barrier.args()),
        start_agent(OURS, "produce", producer=3, **common, **barrier.args()),
        start_agent(OURS, "produce", producer=4, method="write", **common, **barrier.args()),
    ]
    barrier.release(procs)
    impls = [finish(p, "producer")["impl"] for p in procs]
    assert impls == ["peer", "peer", "ours", "ours"]

    records, read_index = [], 0
    while True:
        data, size, read_index = q.read(read_index)
        if data is None:
            break
        producer, seq, n = struct.unpack_from("<IIi", data)
        assert n == size and len(data) == size * ES
        records.append((producer, seq, n))
    check_per_producer(records, {1: 300, 2: 300, 3: 300, 4: 300})
    assert q.loss_count() == 0
    # The original, reading the same queue from its own cursor, sees the same.
    peer_view = agent(peer_python, "consume", name=name, element_size=ES, expect=1200)
    assert peer_view["bad"] == 0
    assert Counter(tuple(r) for r in peer_view["records"]) == Counter(records)
    q.close()


def test_live_consumers_of_both_implementations_while_both_produce(peer_python, shm_name, tmp_path):
    """Consumers of both implementations run while producers of both publish;
    every consumer sees every record, intact, in each producer's order."""
    name = shm_name("live")
    barrier = Barrier(tmp_path)
    geometry = dict(name=name, size=8192, element_size=ES)
    consumers = [
        start_agent(OURS, "consume", expect=800, **geometry),
        start_agent(peer_python, "consume", expect=800, **geometry),
    ]
    producers = [
        start_agent(peer_python, "produce", producer=1, count=400, lengths=[1, 2], pace=0.0002, **geometry,
                    **barrier.args()),
        start_agent(OURS, "produce", producer=2, count=400, lengths=[2, 1], pace=0.0002, **geometry,
                    **barrier.args()),
    ]
    barrier.release(producers)
    for p in producers:
        finish(p, "producer")
    for c in consumers:
        got = finish(c, "consumer")
        assert got["bad"] == 0 and got["loss"] == 0
        check_per_producer(got["records"], {1: 400, 2: 400})


def test_work_stealing_across_implementations_on_one_cursor(peer_python, shm_name, tmp_path):
    name = shm_name("steal")
    q = SlickQueue(name=name, size=1024, element_size=ES)
    agent(peer_python, "produce", name=name, element_size=ES, producer=1, count=150, lengths=[1, 2])
    agent(OURS, "produce", name=name, element_size=ES, producer=2, count=150, lengths=[2, 1])
    publish_order = [(1, s) for s in range(150)] + [(2, s) for s in range(150)]  # one producer after the other
    cursor_name = shm_name("steal_cursor")
    cursor_shm = shared_memory.SharedMemory(name=cursor_name, create=True, size=8)
    try:
        cursor_shm.buf[:8] = bytes(8)
        common = dict(name=name, element_size=ES, cursor=cursor_name)
        # Turns: the implementations take over the cursor from each other...
        turns = [agent(impl, "steal", max=40, **common) for impl in (peer_python, OURS, peer_python, OURS)]
        in_turns = [tuple(r) for t in turns for r in t["records"]]
        assert [len(t["records"]) for t in turns] == [40, 40, 40, 40]
        # ...claiming consecutive records: the first 160 in publish order.
        assert in_turns == publish_order[:160]
        # Then two of each drain the rest concurrently.
        barrier = Barrier(tmp_path)
        stealers = [start_agent(peer_python, "steal", pace=0.0005, **common, **barrier.args()) for _ in range(2)]
        stealers += [start_agent(OURS, "steal", pace=0.0005, **common, **barrier.args()) for _ in range(2)]
        barrier.release(stealers)
        racing = [finish(s, "stealer") for s in stealers]
    finally:
        cursor_shm.close()
        cursor_shm.unlink()
    assert all(res["bad"] == 0 for res in turns + racing)
    claimed = in_turns + [tuple(r) for res in racing for r in res["records"]]
    # Each record went to exactly one consumer, whichever implementation.
    assert sorted(claimed) == sorted(publish_order)
    q.close()


@pytest.mark.parametrize("writer,reader", [("peer", "ours"), ("ours", "peer")])
def test_read_last_across_implementations(peer_python, shm_name, writer, reader):
    name = shm_name("last")
    agent(python_of(writer, peer_python), "produce", name=name, size=256, element_size=ES, producer=5, count=10,
          lengths=[1, 3])
    got = agent(python_of(reader, peer_python), "read_last", name=name, element_size=ES)
    # Record 9 is the last; it has lengths[9 % 2] = 3 elements, all returned.
    assert got == {"last": [5, 9, 3], "intact": True, "len": 3 * ES}


@pytest.mark.parametrize("creator,reader", [("peer", "ours"), ("ours", "peer")])
def test_items_per_slot_16_across_implementations(peer_python, shm_name, creator, reader):
    name = shm_name("ips")
    es = 16
    lengths = [1, 5, 16, 17, 3, 9]  # 16+16+16+32+16+16 = 112 elements of 256
    agent(python_of(creator, peer_python), "produce", name=name, size=256, element_size=es, items_per_slot=16,
          producer=3, count=6, lengths=lengths)
    with open(f"/dev/shm/{name}", "rb") as f:
        header = f.read(64)
    assert header[24:28] == b"3QLS", "items_per_slot != 1 sets feature bit 1 (marker 'SLQ3')"
    assert int.from_bytes(header[28:32], "little") == 16
    reader_py = python_of(reader, peer_python)
    assert agent(reader_py, "info", name=name, element_size=es)["items_per_slot"] == 16
    got = agent(reader_py, "consume", name=name, element_size=es, expect=6)
    assert got["bad"] == 0 and got["loss"] == 0
    assert got["records"] == [[3, i, n] for i, n in enumerate(lengths)]
    wrong = agent(reader_py, "open_error", name=name, element_size=es, items_per_slot=4)
    assert wrong["error"] == "ValueError" and "items_per_slot" in wrong["message"]


@pytest.mark.parametrize("creator,opener", [("peer", "ours"), ("ours", "peer")])
def test_read_last_feature_must_match_across_implementations(peer_python, shm_name, creator, opener):
    name = shm_name("feat")
    agent(python_of(creator, peer_python), "info", name=name, size=64, element_size=ES, read_last=False)
    with open(f"/dev/shm/{name}", "rb") as f:
        assert f.read(28)[24:28] == b"0QLS", "no read_last: marker 'SLQ0'"
    got = agent(python_of(opener, peer_python), "open_error", name=name, element_size=ES)
    assert got["error"] == "RuntimeError" and "enable_read_last" in got["message"], got
    agreeing = agent(python_of(opener, peer_python), "open_error", name=name, element_size=ES, read_last=False)
    assert agreeing["error"] is None


def test_geometry_mismatch_with_a_peer_segment(peer_python, shm_name):
    name = shm_name("geom")
    agent(peer_python, "info", name=name, size=64, element_size=ES)
    with pytest.raises(ValueError, match=r"size mismatch.*size=64.*size=128"):
        SlickQueue(name=name, size=128, element_size=ES)
    with pytest.raises(ValueError, match=r"element_size mismatch.*element_size=32.*element_size=16"):
        SlickQueue(name=name, element_size=16)
    q = SlickQueue(name=name, element_size=ES)
    assert (q.size, q.items_per_slot, q.traits.enable_read_last) == (64, 1, True)
    q.close()
