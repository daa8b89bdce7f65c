"""A hostile or careless host, seen from Python: objects planted under a
queue's name in /dev/shm (symbolic links, FIFOs), a full /dev/shm (in a
private mount namespace), another user's segment, ``close()`` while other
threads wait in ``read_wait``, and ints too large for any argument."""

import errno
import os
import subprocess
import sys
import tempfile
import threading
import time

import pytest

from slick_queue_py import AtomicCursor, SlickQueue

from conftest import PROCESS_TIMEOUT


def test_a_symlink_named_like_a_queue_is_never_written_through(shm_name):
    name = shm_name("symlink")
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(bytes(65536))
        target = f.name
    try:
        os.symlink(target, "/dev/shm/" + name)
        with pytest.raises(OSError) as create:
            SlickQueue(name=name, size=64, element_size=8)
        assert create.value.errno == errno.ELOOP
        assert "symbolic link" in str(create.value)
        with pytest.raises(OSError):
            SlickQueue(name=name, element_size=8)
        with open(target, "rb") as f:
            assert f.read() == bytes(65536), "the link's target was written"
    finally:
        os.unlink(target)
        if os.path.islink("/dev/shm/" + name):
            os.unlink("/dev/shm/" + name)


def test_a_fifo_named_like_a_queue_is_an_error_within_a_second(shm_name):
    name = shm_name("fifo")
    os.mkfifo("/dev/shm/" + name)
    outcome = []

    def attempt():
        for kwargs in ({"element_size": 8}, {"size": 64, "element_size": 8}):
            try:
                SlickQueue(name=name, **kwargs)
                outcome.append("opened")
            except OSError as e:
                outcome.append(str(e))

    start = time.monotonic()
    t = threading.Thread(target=attempt, daemon=True)
    t.start()
    t.join(5)
    took = time.monotonic() - start
    assert not t.is_alive(), "opening a FIFO blocked"
    assert took < 1.0, f"took {took:.2f}s"
    assert len(outcome) == 2 and all("FIFO" in o for o in outcome), outcome


def _unshare_unavailable():
    try:
        probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, text=True, timeout=30)
    except OSError as e:
        return f"unshare could not be run: {e}"
    if probe.returncode != 0:
        return f"`unshare -m` is not permitted here: {probe.stderr.strip()}"
    return None


def test_a_full_dev_shm_is_oserror_enospc_and_leaves_nothing():
    """In a private mount namespace whose /dev/shm is a 16 MiB tmpfs, creating
    a 64 MiB queue raises OSError(ENOSPC) and leaves no object; a queue that
    fits is fully writable."""
    why = _unshare_unavailable()
    if why:
        pytest.skip(f"needs a private mount namespace: {why}")
    code = (
        "import errno, os\n"
        "from slick_queue_py import SlickQueue\n"
        "try:\n"
        "    SlickQueue(name='full_probe', size=1 << 20, element_size=64)\n"
        "    print('created')\n"
        "except OSError as e:\n"
        "    print('errno', errno.errorcode.get(e.errno), 'left' if os.path.exists('/dev/shm/full_probe') else 'clean')\n"
        "q = SlickQueue(name='fits', size=1 << 14, element_size=512)\n"
        "for i in range(q.size):\n"
        "    q.write(bytes([i % 256]) * 512)\n"
        "print('wrote', q.size)\n"
    )
    script = 'mount -t tmpfs -o size=16m tmpfs /dev/shm || exit 90; exec "$0" -c "$1"'
    proc = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script, sys.executable, code],
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
    )
    if proc.returncode == 90:
        pytest.skip(f"mounting a tmpfs in a private namespace failed: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["errno ENOSPC clean", f"wrote {1 << 14}"], proc.stdout


def test_another_users_segment_needs_allow_foreign_owner(shm_name):
    if os.geteuid() != 0:
        pytest.skip("needs root to give a segment to another user (CI runs as root)")
    name = shm_name("foreign")
    q = SlickQueue(name=name, size=64, element_size=8)
    assert q.is_creator
    q.write(b"12345678")
    os.chown("/dev/shm/" + name, 65534, 65534)
    with pytest.raises(PermissionError) as e:
        SlickQueue(name=name, element_size=8)
    assert "owned by uid 65534" in str(e.value) and "allow_foreign_owner=True" in str(e.value)
    with pytest.raises(PermissionError):
        SlickQueue(name=name, size=64, element_size=8)
    other = SlickQueue(name=name, element_size=8, allow_foreign_owner=True)
    assert not other.is_creator
    assert other.read(0)[0] == b"12345678"
    other.close()
    q.close()


def test_is_creator_says_who_created_the_segment(shm_name):
    name = shm_name("creator")
    first = SlickQueue(name=name, size=64, element_size=8)
    second = SlickQueue(name=name, size=64, element_size=8)
    third = SlickQueue(name=name, element_size=8)
    assert (first.is_creator, second.is_creator, third.is_creator) == (True, False, False)
    assert SlickQueue(size=8, element_size=8).is_creator
    for q in (first, second, third):
        q.close()
    assert first.is_creator, "still known after close()"


@pytest.mark.parametrize("shared", [False, True], ids=["int_cursor", "atomic_cursor"])
@pytest.mark.parametrize("timeout", [None, 60.0], ids=["no_timeout", "timeout"])
def test_close_wakes_every_read_wait(shm_name, shared, timeout):
    q = SlickQueue(name=shm_name("wake"), size=64, element_size=8)
    cursor_buf = bytearray(8)
    results = []

    def wait():
        cursor = AtomicCursor(cursor_buf) if shared else 0
        start = time.monotonic()
        try:
            got = q.read_wait(cursor, timeout)
            results.append(("returned", got, time.monotonic() - start))
        except Exception as e:  # noqa: BLE001 - the type is what is checked
            results.append((type(e).__name__, str(e), time.monotonic() - start))

    threads = [threading.Thread(target=wait, daemon=True) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    closed_at = time.monotonic()
    q.close()
    for t in threads:
        t.join(5)
    woke_within = time.monotonic() - closed_at
    assert not any(t.is_alive() for t in threads), "a read_wait kept waiting after close()"
    assert woke_within < 1.0, woke_within
    assert len(results) == 3
    for kind, message, _ in results:
        assert kind == "ValueError" and "closed" in message, (kind, message)


def test_ints_beyond_64_bits_are_value_errors(shm_name):
    q = SlickQueue(size=64, element_size=8)
    for call in (
        lambda: q.reserve(2**70),
        lambda: q.reserve(-(2**70)),
        lambda: q.publish(0, 2**70),
        lambda: q.publish(2**70, 1),
        lambda: q.read(2**70),
        lambda: q.read_wait(2**64, 0),
        lambda: q.read_batch(0, 2**70),
        lambda: q.read_batch(0, -(2**70)),
        lambda: AtomicCursor(bytearray(8), 2**70),
        lambda: AtomicCursor(bytearray(8)).store(2**64),
        lambda: SlickQueue(size=2**70, element_size=8),
        lambda: SlickQueue(size=64, element_size=2**70),
    ):
        with pytest.raises(ValueError):
            call()
    with pytest.raises(ValueError):
        q.read_wait(0, -(2**2000))
    # A timeout too large for a float waits as long as it takes (here: a
    # record is already there), like timeout=None.
    q.write(b"x")
    assert q.read_wait(0, 2**2000)[0] is not None
    # Still the documented TypeError for a non-int, and defaults still work.
    with pytest.raises(TypeError):
        q.reserve("1")
    with pytest.raises(TypeError):
        AtomicCursor(bytearray(8), 1.5)
    index = q.reserve()
    q.publish(index)
    assert q.read(index)[1] == 1


def test_a_read_loop_ends_on_corrupt_indices(shm_name):
    """Slots overwritten with indices near 2**64 (each naming its own
    position): following them used to wrap the cursor to 0 and read the
    same slots for ever; a ``while`` loop over ``read()`` must end."""
    import struct

    name = shm_name("corrupt")
    q = SlickQueue(name=name, size=64, element_size=8)
    for i in range(10):
        q.write(struct.pack("<Q", i))
    with open("/dev/shm/" + name, "r+b") as f:
        for i in range(64):
            f.seek(64 + 16 * i)
            f.write(struct.pack("<QI", 2**64 - 64 + i, 1))
    for start in (0, q.initial_reading_index()):
        cursor, records = start, 0
        while True:
            data, _, cursor = q.read(cursor)
            if data is None:
                break
            records += 1
            assert records <= 256, f"a read loop from {start} did not end"
    shared = AtomicCursor(bytearray(8))
    records = 0
    while q.read(shared)[0] is not None:
        records += 1
        assert records <= 256, "a shared-cursor read loop did not end"
    q.close()


def test_a_queue_the_original_package_made_is_refused_on_a_full_dev_shm(peer_python):
    """slick-queue-py 2.3.0 sizes a segment without reserving its memory: on
    a full /dev/shm its untouched pages would kill whoever touches them first
    with SIGBUS. In a private mount namespace with a 16 MiB tmpfs: a queue
    the original package creates while there is room is reserved in full
    when this package opens it; one it creates after the tmpfs is full is
    refused with OSError(ENOSPC) instead of crashing the process."""
    why = _unshare_unavailable()
    if why:
        pytest.skip(f"needs a private mount namespace: {why}")
    peer_create = (
        "import sys; from slick_queue_py import SlickQueue\n"
        "q = SlickQueue(name=sys.argv[1], size=1 << 14, element_size=64); q.close()\n"
    )
    code = (
        "import errno, os, subprocess, sys\n"
        "from slick_queue_py import SlickQueue\n"
        "peer, make = sys.argv[1], sys.argv[2]\n"
        "blocks = lambda n: os.stat('/dev/shm/' + n).st_blocks * 512\n"
        "size = lambda n: os.stat('/dev/shm/' + n).st_size\n"
        "subprocess.run([peer, '-c', make, 'roomy'], check=True)\n"
        "print('peer left it sparse', blocks('roomy') < size('roomy'))\n"
        "q = SlickQueue(name='roomy', element_size=64)\n"
        "print('reserved on open', blocks('roomy') >= size('roomy'))\n"
        "for i in range(q.size):\n"
        "    q.write(bytes([i % 256]) * 64)\n"
        "subprocess.run([peer, '-c', make, 'late'], check=True)\n"
        "fd = os.open('/dev/shm/filler', os.O_CREAT | os.O_WRONLY, 0o600)\n"
        "try:\n"
        "    while os.write(fd, b'x' * 4096):\n"
        "        pass\n"
        "except OSError:\n"
        "    pass\n"
        "try:\n"
        "    SlickQueue(name='late', element_size=64)\n"
        "    print('attached')\n"
        "except OSError as e:\n"
        "    print('errno', errno.errorcode.get(e.errno), 'SIGBUS' in str(e))\n"
        "print('wrote', q.size)\n"
    )
    script = 'mount -t tmpfs -o size=16m tmpfs /dev/shm || exit 90; exec "$0" -c "$1" "$2" "$3"'
    proc = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script, sys.executable, code, peer_python, peer_create],
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
    )
    if proc.returncode == 90:
        pytest.skip(f"mounting a tmpfs in a private namespace failed: {proc.stderr.strip()}")
    assert proc.returncode == 0, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stdout.splitlines() == [
        "peer left it sparse True",
        "reserved on open True",
        "errno ENOSPC True",
        f"wrote {1 << 14}",
    ], proc.stdout
