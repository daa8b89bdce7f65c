"""A producer for test_torn_records.py, run as its own process so that it
writes at full speed in parallel with the reader:

    python torn_writer.py NAME ELEMENT_SIZE PRODUCER METHOD LENGTHS STOP_FILE

writes records until STOP_FILE exists, then prints the number of records and
elements it published as JSON. Every record is the 8-byte chunk
``pack('<IHH', seq, producer, n)`` repeated over all its ``n *
ELEMENT_SIZE`` bytes, so a reader can check every byte: a record mixing the
bytes of two records has two different chunks. METHOD is ``write`` (one
``write()`` per record, LENGTHS a comma-separated cycle of record lengths)
or ``batch`` (``write_batch()`` of 64 one-element records, a whole lap of the
test's 64-element ring).
"""

import json
import os
import struct
import sys

from slick_queue_py import SlickQueue

CHUNK = struct.Struct("<IHH")


def main():
    name, es, producer, method, lengths, stop = sys.argv[1:7]
    es, producer = int(es), int(producer)
    lengths = [int(n) for n in lengths.split(",")]
    q = SlickQueue(name=name, element_size=es)
    records = elements = 0
    seq = 0
    print("ready", flush=True)
    while True:
        if seq % 256 == 0 and os.path.exists(stop):
            break
        if method == "batch":
            q.write_batch(b"".join(CHUNK.pack(seq + k, producer, 1) * (es // 8) for k in range(64)))
            seq += 64
            records += 64
            elements += 64
        else:
            n = lengths[seq % len(lengths)]
            q.write(CHUNK.pack(seq, producer, n) * (n * es // 8))
            seq += 1
            records += 1
            elements += n
    q.close()
    print(json.dumps({"records": records, "elements": elements}), flush=True)


if __name__ == "__main__":
    main()
