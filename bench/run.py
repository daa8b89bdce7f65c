#!/usr/bin/env python3
"""Runs every benchmark of the project and writes docs/BENCHMARKS.md and its
charts from the measured data (never edited by hand). Use `bench/run`, which
builds what this needs and then calls this script with the bench virtualenv.

    bench/run                      full run (a few minutes), writes docs/
    bench/run --smoke              tiny counts, one repetition, writes nothing
                                   unless --out-dir is given (CI)
    bench/run --render-only FILE   re-render docs/ from a results JSON

Every cell is 5 separate process runs (median, min, max), implementations
alternating A, B, C, A, B, C ... within a run id (`docs/spec/BENCH_PROTOCOL.md`).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
TARGET = Path(os.environ.get("CARGO_TARGET_DIR") or BENCH / "target")
RUST_BIN = TARGET / "release" / "slick-bench"
PY_SCRIPT = BENCH / "python" / "bench_py.py"

RUNS = ["a", "b", "c", "d", "e", "f", "g", "z32", "z1024", "zlat"]
LATENCY_RUNS = ("f", "zlat")
RUN_TITLES = {
    "a": "a: SPSC, u64, one item per reserve/publish (msgs/s)",
    "b": "b: SPSC, 64-byte element (msgs/s)",
    "c": "c: SPSC, batches of 16 u64 (msgs/s)",
    "d": "d: 2 producers + 1 consumer, unpinned (msgs/s)",
    "e": "e: SPSC across processes over shared memory (msgs/s)",
    "f": "f: ping-pong round trip across processes (ns)",
    "g": "g: one thread, reserve+write+publish+read (ns per step)",
    "z32": "z32: queue bridged over Zenoh vs raw Zenoh pub/sub, 32-byte records, TCP on 127.0.0.1 (msgs/s)",
    "z1024": "z1024: queue bridged over Zenoh vs raw Zenoh pub/sub, 1024-byte records, TCP on 127.0.0.1 (msgs/s)",
    "zlat": "zlat: one-way latency, queue bridged over Zenoh vs raw Zenoh pub/sub, 32-byte records (ns)",
}
IMPL_LABELS = {
    "slick": "slick-queue (default: read_last on)",
    "slick-nolast": "slick-queue (read_last off)",
    "slick-excl": "slick-queue (exclusive producer)",
    "crossbeam": "crossbeam ArrayQueue",
    "disruptor": "disruptor",
    "mpsc": "std::sync::mpsc (sync_channel)",
    "iceoryx2": "iceoryx2",
    "bridge": "slickq bridge (queue -> Zenoh -> queue)",
    "zenoh": "raw Zenoh pub/sub",
    "cpp": "C++ slick::SlickQueue (header supplied)",
}
OURS = ("slick", "slick-nolast", "slick-excl", "bridge")

PY_TESTS = ["step", "xput", "pingpong", "wake"]
# The wake test: our binding once (read_wait is the same for both call
# patterns; the PyPI peer has no blocking read), the peers with a blocking
# get, and the eventfd baseline (measured only there).
WAKE_CELLS = {"ours:slick-readme", "ours:slick-poll50", "bench:mpqueue", "bench:faster-fifo", "bench:eventfd", "bench:timer-1ms"}
#: Python implementations that run only some tests (bench_py.py ONLY_TESTS).
PY_ONLY = {"slick-batch": ("step", "xput"), "slick-batch-excl": ("step", "xput"), "slick-poll50": ("wake",), "timer-1ms": ("wake",)}
PY_LABELS = {
    "ours:slick-readme": "slick-queue binding, README pattern",
    "ours:slick-fast": "slick-queue binding, one-call write + batch read",
    "ours:slick-batch": "slick-queue binding, write_batch + read_into (1024-item chunks)",
    "ours:slick-batch-excl": "slick-queue binding, write_batch + read_into, exclusive producer",
    "peer:slick-readme": "slick-queue-py 2.3.0 (pure Python), README pattern",
    "bench:mpqueue": "multiprocessing.Queue",
    "bench:faster-fifo": "faster-fifo",
    "bench:iceoryx2": "iceoryx2 (Python)",
    "bench:eventfd": "eventfd (kernel wake baseline)",
    "ours:slick-poll50": "slick-queue binding, read_wait with poll_interval=0.05",
    "bench:timer-1ms": "1 ms sleep loop (the cost of any 1 ms bounded poll)",
}


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def sh(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


#: Environment variables that change what bench/run measures: recorded with
#: the command.
COMMAND_ENV = ("SLICK_BENCH_CPP_INCLUDE", "SLICK_BENCH_NO_ICEORYX2", "SLICK_BENCH_NO_ZENOH")


def invocation() -> str:
    """The command as it was run, with the environment variables that matter."""
    env = [f"{k}={shlex.quote(os.environ[k])}" for k in COMMAND_ENV if os.environ.get(k)]
    return " ".join(env + ["bench/run"] + [shlex.quote(a) for a in sys.argv[1:]])


def machine_info() -> dict:
    cpu = ""
    for line in sh(["lscpu"]).splitlines():
        if line.startswith("Model name:"):
            cpu = line.split(":", 1)[1].strip()
    mem = ""
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    rev = sh(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = bool(sh(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"]))
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory": mem,
        "kernel": platform.release(),
        "rustc": sh(["rustc", "-V"]),
        "python": platform.python_version(),
        "commit": rev + (" (with uncommitted changes)" if dirty else ""),
        "load_before": os.getloadavg(),
    }


def parse_result(out: str) -> dict | None:
    for line in out.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return None


def run_cell(cmd: list[str], timeout: int = 600) -> dict:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout}s"}
    r = parse_result(p.stdout)
    if p.returncode != 0 or r is None:
        err = (p.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {p.returncode}: {err}"}
    return r


def summarize(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


# --------------------------------------------------------------------- Rust


def rust_runs(runs: list[str], reps: int, smoke: bool) -> dict:
    matrix = json.loads(subprocess.run([str(RUST_BIN), "list"], capture_output=True, text=True, check=True).stdout)
    out = {}
    for run in runs:
        cells = [c for c in matrix if c["run"] == run]
        impls = [c["impl"] for c in cells if c["supported"]]
        res = {
            c["impl"]: {"unsupported": c["reason"]} for c in cells if not c["supported"]
        }
        samples: dict[str, list] = {i: [] for i in impls}
        errors: dict[str, list] = {i: [] for i in impls}
        for rep in range(reps):
            for imp in impls:  # A, B, C, A, B, C ...
                cmd = [str(RUST_BIN), "run", run, imp] + (["--smoke"] if smoke else [])
                r = run_cell(cmd)
                if "error" in r:
                    log(f"rust {run}/{imp} #{rep + 1}: FAILED {r['error']}")
                    errors[imp].append(r["error"])
                    continue
                samples[imp].append(r)
                log(f"rust {run}/{imp} #{rep + 1}: {headline_rust(r)}")
        for imp in impls:
            res[imp] = aggregate_rust(samples[imp], errors[imp])
        out[run] = res
    return out


def headline_rust(r: dict) -> str:
    if r.get("msgs_per_sec") is not None:
        return f"{r['msgs_per_sec'] / 1e6:.2f} M msgs/s"
    if r.get("ns_per_step") is not None:
        return f"{r['ns_per_step']:.2f} ns/step"
    lat = r["latency_ns"]
    return f"p50 {lat['p50']:.0f} ns, p99 {lat['p99']:.0f} ns, p99.9 {lat['p999']:.0f} ns"


def aggregate_rust(samples: list[dict], errors: list[str]) -> dict:
    if not samples:
        return {"failed": errors[:1] or ["no result"]}
    agg: dict = {"runs": len(samples), "errors": errors, "note": samples[0].get("note", "")}
    if samples[0].get("msgs_per_sec") is not None:
        agg["metric"] = "msgs_per_sec"
        agg["msgs_per_sec"] = summarize([s["msgs_per_sec"] for s in samples])
        agg["count"] = samples[0]["count"]
    elif samples[0].get("ns_per_step") is not None:
        agg["metric"] = "ns_per_step"
        agg["ns_per_step"] = summarize([s["ns_per_step"] for s in samples])
        agg["count"] = samples[0]["count"]
    else:
        agg["metric"] = "latency_ns"
        for k in ("p50", "p99", "p999"):
            agg[k] = summarize([s["latency_ns"][k] for s in samples])
        # the curve of the median run (by p50)
        mid = sorted(samples, key=lambda s: s["latency_ns"]["p50"])[len(samples) // 2]
        agg["curve"] = mid["latency_ns"]["curve"]
        agg["count"] = samples[0]["count"]
    return agg


def criterion_g(smoke: bool) -> dict:
    args = ["cargo", "bench", "--manifest-path", str(BENCH / "Cargo.toml"), "--bench", "step", "--"]
    args += ["--test"] if smoke else ["--warm-up-time", "1", "--measurement-time", "3", "--noplot"]
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != 0:
        log("criterion failed:\n" + p.stderr[-2000:])
        return {"error": "criterion failed"}
    if smoke:
        return {}
    res = {}
    base = TARGET / "criterion" / "g"
    for imp in IMPL_LABELS:
        f = base / imp / "new" / "estimates.json"
        if f.exists():
            e = json.loads(f.read_text())
            res[imp] = {
                "median": e["median"]["point_estimate"],
                "lower": e["median"]["confidence_interval"]["lower_bound"],
                "upper": e["median"]["confidence_interval"]["upper_bound"],
            }
    return res


# ------------------------------------------------------------------- Python


def py_interpreters(args) -> dict:
    """role -> python executable (only those that exist)."""
    roles = {}
    if args.py_ours and Path(args.py_ours).exists():
        roles["ours"] = args.py_ours
    if args.py_peer and Path(args.py_peer).exists():
        roles["peer"] = args.py_peer
    roles["bench"] = sys.executable
    return roles


def python_runs(args, reps: int, smoke: bool) -> dict:
    roles = py_interpreters(args)
    cells = []  # (key, python, impl)
    notes = {}
    for role, py in roles.items():
        p = subprocess.run([py, str(PY_SCRIPT), "list"], capture_output=True, text=True)
        if p.returncode != 0:
            notes[role] = f"{py}: cannot run the script ({p.stderr.strip()[-200:]})"
            continue
        avail = json.loads(p.stdout)
        wanted = {"ours": ["slick-readme", "slick-fast", "slick-batch", "slick-batch-excl", "slick-poll50"], "peer": ["slick-readme"]}.get(
            role, ["mpqueue", "faster-fifo", "iceoryx2", "eventfd", "timer-1ms"]
        )
        for imp in wanted:
            key = f"{role}:{imp}"
            a = avail.get(imp, {})
            if role == "ours" and imp == "slick-readme" and a.get("available") and not a.get("native"):
                notes[role] = f"{py}: slick_queue_py there is not the native binding ({a.get('file')})"
                break
            if role == "peer" and a.get("version") not in (None, "2.3.0"):
                notes[key] = f"peer interpreter has slick_queue_py {a.get('version')}, not 2.3.0"
            if a.get("available"):
                cells.append((key, py, imp, a))
            else:
                notes[key] = a.get("reason", "unavailable")
    if "ours" not in roles:
        notes["ours"] = f"no interpreter with our binding ({args.py_ours or 'none given'})"
    out = {"notes": notes, "results": {}}
    for test in [t for t in PY_TESTS if t in args.py_tests.split(",")]:
        if test == "wake":
            test_cells = [c for c in cells if c[0] in WAKE_CELLS]
        else:
            test_cells = [c for c in cells if c[0] != "bench:eventfd" and test in PY_ONLY.get(c[2], PY_TESTS)]
        samples: dict[str, list] = {c[0]: [] for c in test_cells}
        errors: dict[str, list] = {c[0]: [] for c in test_cells}
        for rep in range(reps):
            for key, py, imp, _a in test_cells:
                r = run_cell([py, str(PY_SCRIPT), "run", imp, test] + (["--smoke"] if smoke else []), timeout=300)
                if "error" in r:
                    log(f"python {test}/{key} #{rep + 1}: FAILED {r['error']}")
                    errors[key].append(r["error"])
                    continue
                samples[key].append(r)
                log(f"python {test}/{key} #{rep + 1}: {headline_py(r)}")
        res = {}
        for key, py, imp, a in test_cells:
            s = samples[key]
            if not s:
                res[key] = {"failed": errors[key][:1] or ["no result"]}
                continue
            agg = {"runs": len(s), "errors": errors[key], "python": py, "count": s[0]["count"]}
            if "module" in s[0]:
                agg["module"] = s[0]["module"]
            if test == "step":
                for k in ("produce_ns", "consume_ns", "step_ns"):
                    agg[k] = summarize([x[k] for x in s])
            elif test == "xput":
                agg["msgs_per_sec"] = summarize([x["msgs_per_sec"] for x in s])
            elif test == "wake":
                for k in ("p50", "p99"):
                    agg[k] = summarize([x["wake_ns"][k] for x in s])
                for k in ("cpu_idle_pct", "cpu_sparse_pct"):
                    agg[k] = summarize([x[k] for x in s])
            else:
                for k in ("p50", "p99", "p999"):
                    agg[k] = summarize([x["latency_ns"][k] for x in s])
                mid = sorted(s, key=lambda x: x["latency_ns"]["p50"])[len(s) // 2]
                agg["curve"] = mid["latency_ns"]["curve"]
            res[key] = agg
        out["results"][test] = res
    return out


def headline_py(r: dict) -> str:
    if "wake_ns" in r:
        w = r["wake_ns"]
        return (f"wake p50 {w['p50'] / 1e3:.1f} us, p99 {w['p99'] / 1e3:.1f} us; waiter CPU idle "
                f"{r['cpu_idle_pct']:.2f}%, at 100 records/s {r['cpu_sparse_pct']:.2f}%")
    if "step_ns" in r:
        return f"produce {r['produce_ns']:.0f} ns + consume {r['consume_ns']:.0f} ns per item"
    if "msgs_per_sec" in r:
        return f"{r['msgs_per_sec'] / 1e3:.1f} k msgs/s"
    lat = r["latency_ns"]
    return f"p50 {lat['p50'] / 1e3:.1f} us, p99 {lat['p99'] / 1e3:.1f} us"


# ---------------------------------------------------------------- rendering


def fmt_rate(v: float) -> str:
    return f"{v / 1e6:.2f} M"


def fmt_ns(v: float) -> str:
    return f"{v:,.0f} ns" if v >= 100 else f"{v:.2f} ns"


def fmt_us(v: float) -> str:
    return f"{v / 1e3:,.1f} µs" if v >= 1000 else f"{v:.0f} ns"


def cell_value(r: dict, metric: str | None = None):
    """The headline summary of a Rust cell: (summary, higher_is_better)."""
    m = metric or r.get("metric")
    if m == "msgs_per_sec":
        return r["msgs_per_sec"], True
    if m == "ns_per_step":
        return r["ns_per_step"], False
    if m in ("p50", "p99", "p999"):
        return r[m], False
    return None, True


def speedup(ours: float, peer: float, higher_better: bool) -> float:
    return ours / peer if higher_better else peer / ours


def targets(data: dict) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) rows, computed from the medians."""
    rows = []
    R = data.get("rust", {})

    def med(run, imp, key):
        c = R.get(run, {}).get(imp, {})
        return c.get(key, {}).get("median") if isinstance(c.get(key), dict) else None

    def verdict(ok):
        return "met" if ok else "**missed**"

    a = med("a", "slick", "msgs_per_sec")
    a_nl = med("a", "slick-nolast", "msgs_per_sec")
    cb = med("a", "crossbeam", "msgs_per_sec")
    if a is not None:
        best = max(a, a_nl or 0)
        rows.append(("a >= 25M msgs/s (default / read_last off)", f"{fmt_rate(a)} / {fmt_rate(a_nl or 0)}",
                     verdict(a >= 25e6) + " / " + verdict((a_nl or 0) >= 25e6)))
        if cb:
            rows.append(("a ahead of crossbeam ArrayQueue", f"{a / cb:.2f}x / {(a_nl or 0) / cb:.2f}x of {fmt_rate(cb)}",
                         verdict(a > cb) + " / " + verdict((a_nl or 0) > cb)))
        del best
    c = med("c", "slick", "msgs_per_sec")
    c_nl = med("c", "slick-nolast", "msgs_per_sec")
    if c is not None:
        rows.append(("c >= 100M msgs/s (default / read_last off)", f"{fmt_rate(c)} / {fmt_rate(c_nl or 0)}",
                     verdict(c >= 100e6) + " / " + verdict((c_nl or 0) >= 100e6)))
    for imp in OURS:
        e = med("e", imp, "msgs_per_sec")
        aa = med("a", imp, "msgs_per_sec")
        if e is not None and aa:
            rows.append((f"e within 15% of a ({IMPL_LABELS[imp]})", f"e/a = {e / aa:.2f} ({fmt_rate(e)})", verdict(e >= 0.85 * aa)))
    for imp in OURS:
        p50 = med("f", imp, "p50")
        p999 = med("f", imp, "p999")
        if p50 is not None:
            rows.append((f"f p50 <= 400 ns, p99.9 <= 2 µs ({IMPL_LABELS[imp]})", f"{p50:.0f} ns / {p999:,.0f} ns",
                         verdict(p50 <= 400) + " / " + verdict(p999 <= 2000)))
    for run, size in (("z32", 32), ("z1024", 1024)):
        b, z = med(run, "bridge", "msgs_per_sec"), med(run, "zenoh", "msgs_per_sec")
        if b is not None and z:
            rows.append((f"bridge >= 80% of raw Zenoh throughput, {size}-byte records",
                         f"{b / z:.2f}x ({fmt_rate(b)} vs {fmt_rate(z)})", verdict(b >= 0.8 * z)))
    b, z = med("zlat", "bridge", "p50"), med("zlat", "zenoh", "p50")
    if b is not None and z:
        rows.append(("bridge p50 one-way latency <= 1.2x raw Zenoh's", f"{b / z:.2f}x ({fmt_ns(b)} vs {fmt_ns(z)})",
                     verdict(b <= 1.2 * z)))
    g_nl = med("g", "slick-nolast", "ns_per_step")
    g = med("g", "slick", "ns_per_step")
    if g_nl is not None:
        rows.append(("g <= 8 ns/step, read_last off", f"{g_nl:.2f} ns", verdict(g_nl <= 8)))
    if g is not None:
        rows.append(("g <= 11 ns/step, default options", f"{g:.2f} ns", verdict(g <= 11)))

    # Ratio goals against the C++ original (only when its header was
    # supplied: SLICK_BENCH_CPP_INCLUDE) and, for the exclusive producer,
    # against the fastest in-process Rust peers; all from this one run.
    def ratio_row(label, run, ours, peer, key, goal, higher_better):
        o, p = med(run, ours, key), med(run, peer, key)
        if o is None or p is None:
            return
        r = o / p
        ok = r >= goal if higher_better else r <= goal
        sign = ">=" if higher_better else "<="
        rows.append((f"{label}: {run} {IMPL_LABELS[ours]} / {IMPL_LABELS[peer]} {sign} {goal}",
                     f"{r:.2f}x", verdict(ok)))

    ratio_row("per-step time", "g", "slick", "cpp", "ns_per_step", 0.8, False)
    ratio_row("throughput", "a", "slick", "cpp", "msgs_per_sec", 2.0, True)
    ratio_row("throughput", "e", "slick", "cpp", "msgs_per_sec", 1.6, True)
    ratio_row("round trip p50", "f", "slick", "cpp", "p50", 0.75, False)
    ratio_row("exclusive producer", "a", "slick-excl", "crossbeam", "msgs_per_sec", 1.0, True)
    ratio_row("exclusive producer", "c", "slick-excl", "disruptor", "msgs_per_sec", 1.0, True)

    P = data.get("python", {}).get("results", {})

    def pmed(test, key, field):
        c = P.get(test, {}).get(key, {})
        return c.get(field, {}).get("median") if isinstance(c.get(field), dict) else None

    peer_step = pmed("step", "peer:slick-readme", "step_ns")
    ours_readme = pmed("step", "ours:slick-readme", "step_ns")
    ours_fast = pmed("step", "ours:slick-fast", "step_ns")
    if peer_step is not None:
        if ours_readme is not None:
            rows.append(("Python per-item produce+consume, README pattern: >= 10x slick-queue-py",
                         f"{peer_step / ours_readme:.1f}x", verdict(peer_step / ours_readme >= 10)))
        else:
            rows.append(("Python per-item produce+consume, README pattern: >= 10x slick-queue-py", "binding not measured", "pending"))
        if ours_fast is not None:
            rows.append(("Python one-call write + batch read: >= 50x slick-queue-py, README pattern",
                         f"{peer_step / ours_fast:.1f}x", verdict(peer_step / ours_fast >= 50)))
        else:
            rows.append(("Python one-call write + batch read: >= 50x slick-queue-py, README pattern", "binding not measured", "pending"))
    batch_x = pmed("xput", "ours:slick-batch", "msgs_per_sec")
    rows.append(("Python write_batch + read_into across processes >= 8M items/s",
                 f"{batch_x / 1e6:.1f} M/s" if batch_x else "binding not measured",
                 verdict(batch_x >= 8e6) if batch_x else "pending"))
    ours_x = pmed("xput", "ours:slick-fast", "msgs_per_sec") or pmed("xput", "ours:slick-readme", "msgs_per_sec")
    for peer, k in (("bench:mpqueue", 5), ("bench:iceoryx2", 2)):
        px = pmed("xput", peer, "msgs_per_sec")
        label = f"Python cross-process throughput >= {k}x {PY_LABELS[peer]}"
        if ours_x is not None and px:
            rows.append((label, f"{ours_x / px:.1f}x", verdict(ours_x / px >= k)))
        elif px:
            rows.append((label, "binding not measured", "pending"))
    wk = pmed("wake", "ours:slick-readme", "p50")
    efd = pmed("wake", "bench:eventfd", "p50")
    if wk is not None and efd:
        rows.append(("Python wake-up p50 <= 2x an eventfd wake", f"{wk / efd:.2f}x ({fmt_us(wk)} vs {fmt_us(efd)})",
                     verdict(wk <= 2 * efd)))
    idle = pmed("wake", "ours:slick-readme", "cpu_idle_pct")
    timer = pmed("wake", "bench:timer-1ms", "cpu_idle_pct")
    if idle is not None:
        floor = f"; a bare 1 ms sleep loop: {timer:.2f}%" if timer is not None else ""
        rows.append(("Python idle waiter <= 1% of a core (default poll_interval, 1 ms)", f"{idle:.2f}%{floor}",
                     verdict(idle <= 1.0)))
    idle50 = pmed("wake", "ours:slick-poll50", "cpu_idle_pct")
    wk50 = pmed("wake", "ours:slick-poll50", "p50")
    if idle50 is not None and wk50 is not None and efd:
        rows.append(("Python idle waiter <= 1% of a core (poll_interval=0.05), wake p50 <= 2x eventfd",
                     f"{idle50:.2f}%, {wk50 / efd:.2f}x", verdict(idle50 <= 1.0 and wk50 <= 2 * efd)))
    pp = pmed("pingpong", "ours:slick-fast", "p50") or pmed("pingpong", "ours:slick-readme", "p50")
    rows.append(("Python ping-pong p50 <= 3 µs", fmt_us(pp) if pp else "binding not measured",
                 verdict(pp <= 3000) if pp else "pending"))
    return rows


def repo_relative(value):
    """`value` with every path inside this repository made relative to its
    root, so the committed results do not record where the clone lived."""
    if isinstance(value, dict):
        return {k: repo_relative(v) for k, v in value.items()}
    if isinstance(value, list):
        return [repo_relative(v) for v in value]
    if isinstance(value, str):
        return value.replace(f"{ROOT}/", "")
    return value


def render(data: dict, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    charts = out_dir / "bench"
    charts.mkdir(exist_ok=True)
    (charts / "results.json").write_text(json.dumps(repo_relative(data), indent=1))
    made = make_charts(data, charts)
    m = data["machine"]
    L = []
    L.append("# Benchmarks\n")
    L.append("<!-- Generated by bench/run from bench measurements (docs/bench/results.json). Do not edit by hand. -->\n")
    took = f" The measurements took {m['seconds'] // 60} min {m['seconds'] % 60} s." if "seconds" in m else ""
    L.append(f"Generated {m['date']} by `{data['command']}` at commit {m['commit']}.{took}\n")
    L.append(f"Machine: {m['cpu']}, {m['cpus']} CPUs, {m['memory']}, Linux {m['kernel']}; {m['rustc']}; "
             f"Python {m['python']}. Load average before/after: "
             f"{'/'.join(f'{x:.2f}' for x in m['load_before'])} / {'/'.join(f'{x:.2f}' for x in m.get('load_after', []))}.\n")
    L.append("Protocol: [`docs/spec/BENCH_PROTOCOL.md`](spec/BENCH_PROTOCOL.md) (flow control through a cache-line-aligned `consumed` counter, per-producer "
             "sequence checks, producer pinned to CPU 0 and consumer to CPU 1 except run d). Every figure is the median "
             f"of {data['reps']} separate process runs, with min and max; implementations alternate A, B, C, A, B, C within "
             "a run. Ratios are ours/peer for throughput and peer/ours for times, so **above 1 means slick-queue is faster**; "
             "they are only meaningful within one run of this command.\n")
    if data.get("smoke"):
        L.append("**Smoke run: tiny counts, figures meaningless.**\n")
    for mg in data.get("merged", []):
        L.append(f"Runs {', '.join(mg['runs'])} were measured separately, {mg['date']}, by `{mg['command']}` at commit "
                 f"{mg['commit']} ({mg['cpu']}; {mg['reps']} process runs per cell; load average before/after "
                 f"{'/'.join(f'{x:.2f}' for x in mg['load_before'])} / {'/'.join(f'{x:.2f}' for x in mg['load_after'])}).\n")
    L.append("Reading the throughput figures: a two-thread run settles in one of two regimes. Either the consumer "
             "trails the producer by up to half the ring and each side streams through cache lines the other is "
             "done with (fast), or the consumer catches up and polls the very slot line the producer writes next, "
             "so every item costs a cross-core cache-line round trip, which a producer's locked reservation "
             "instruction must wait for (slow). Which regime a run lands in varies from run to run and with what "
             "else the host runs, hence the wide min-max ranges; the medians of the same run are what compares.\n")
    if made:
        L.append("\n" + "\n".join(f"![{t}](bench/{f})" for f, t in made) + "\n")

    L.append("\n## Targets\n")
    L.append("Targets given as absolute figures (a >= 25M msgs/s, c >= 100M, f p50 <= 400 ns, g <= 8 / 11 ns, "
             "Python >= 8M items/s and ping-pong <= 3 µs) were set on this kind of host and do not carry over to "
             "others (figures differ between hosts by up to 3x); the ratio targets (against the C++ "
             "original, crossbeam, the disruptor, Zenoh, an eventfd and the Python peers) compare implementations "
             "within this one run.\n")
    L.append("| target | measured (median) | verdict |\n|---|---|---|")
    for t, v, ok in targets(data):
        L.append(f"| {t} | {v} | {ok} |")
    L.append("")

    L.append("\n## Rust\n")
    R = data.get("rust", {})
    for run in RUNS:
        if run not in R:
            continue
        L.append(f"\n### {RUN_TITLES[run]}\n")
        cells = R[run]
        metrics = ["p50", "p99", "p999"] if run in LATENCY_RUNS else [None]
        for metric in metrics:
            if metric:
                what = "round trip" if run == "f" else "one-way"
                L.append(f"\n{ {'p50': 'p50', 'p99': 'p99', 'p999': 'p99.9'}[metric] } {what}:\n")
            peers = [i for i in cells if i not in OURS and "failed" not in cells[i] and "unsupported" not in cells[i]]
            head = "| implementation | median | min | max | runs |" + "".join(f" vs {i} |" for i in peers)
            L.append(head)
            L.append("|---" * (5 + len(peers)) + "|")
            order = sorted(cells, key=lambda i: (i not in OURS, "unsupported" in cells[i], list(IMPL_LABELS).index(i)))
            for imp in order:
                c = cells[imp]
                label = IMPL_LABELS.get(imp, imp)
                if "unsupported" in c:
                    L.append(f"| {label} | n/a: {c['unsupported']} | | | |" + " |" * len(peers))
                    continue
                if "failed" in c:
                    L.append(f"| {label} | FAILED: {c['failed'][0]} | | | |" + " |" * len(peers))
                    continue
                s, hib = cell_value(c, metric)
                f = fmt_rate if hib else fmt_ns
                row = f"| {label} | {f(s['median'])} | {f(s['min'])} | {f(s['max'])} | {c['runs']} |"
                for p in peers:
                    if imp in OURS and p != imp:
                        ps, _ = cell_value(cells[p], metric)
                        row += f" {speedup(s['median'], ps['median'], hib):.2f}x |"
                    else:
                        row += " |"
                L.append(row)
        notes = {c.get("note") for c in cells.values() if c.get("note")}
        count = next((c.get("count") for c in cells.values() if c.get("count")), None)
        if count:
            L.append(f"\nCount per run: {count:,}.")
        errs = [f"{i}: {e}" for i, c in cells.items() for e in c.get("errors", [])]
        if errs:
            L.append("\nFailed repetitions (excluded): " + "; ".join(errs))
        del notes
    crit = data.get("criterion_g") or {}
    if crit and "error" not in crit:
        L.append("\n### g with criterion (median ns per step, 95% confidence interval)\n")
        L.append("| implementation | median | CI low | CI high |\n|---|---|---|---|")
        for imp, c in crit.items():
            L.append(f"| {IMPL_LABELS.get(imp, imp)} | {c['median']:.2f} ns | {c['lower']:.2f} ns | {c['upper']:.2f} ns |")

    P = data.get("python")
    if P:
        L.append("\n## Python (32-byte elements)\n")
        for k, v in P.get("notes", {}).items():
            L.append(f"- {k}: {v}")
        PR = P.get("results", {})
        titles = {
            "step": "Per-item cost in one thread (produce a block of 1024, then consume it)",
            "xput": "Cross-process throughput (msgs/s)",
            "pingpong": "Cross-process ping-pong round trip",
            "wake": "Waking a sleeping reader: one record every 10 ms from another process",
        }
        for test in PY_TESTS:
            cells = PR.get(test)
            if not cells:
                continue
            L.append(f"\n### {titles[test]}\n")
            base = "peer:slick-readme"
            if test == "step":
                L.append("| implementation | produce+consume median | min | max | produce | consume | vs slick-queue-py |")
                L.append("|---|---|---|---|---|---|---|")
                for key, c in cells.items():
                    if "failed" in c:
                        L.append(f"| {PY_LABELS.get(key, key)} | FAILED: {c['failed'][0]} | | | | | |")
                        continue
                    s = c["step_ns"]
                    ratio = ""
                    if base in cells and "step_ns" in cells[base]:
                        ratio = f"{cells[base]['step_ns']['median'] / s['median']:.1f}x"
                    L.append(f"| {PY_LABELS.get(key, key)} | {fmt_us(s['median'])} | {fmt_us(s['min'])} | {fmt_us(s['max'])} | "
                             f"{fmt_us(c['produce_ns']['median'])} | {fmt_us(c['consume_ns']['median'])} | {ratio} |")
            elif test == "xput":
                refs = [k for k in ("bench:mpqueue", "bench:faster-fifo", "bench:iceoryx2", base) if k in cells and "msgs_per_sec" in cells[k]]
                L.append("| implementation | median | min | max |" + "".join(f" vs {PY_LABELS[r]} |" for r in refs))
                L.append("|---" * (4 + len(refs)) + "|")
                for key, c in cells.items():
                    if "failed" in c:
                        L.append(f"| {PY_LABELS.get(key, key)} | FAILED: {c['failed'][0]} | | |" + " |" * len(refs))
                        continue
                    s = c["msgs_per_sec"]
                    row = f"| {PY_LABELS.get(key, key)} | {s['median'] / 1e3:,.1f} k | {s['min'] / 1e3:,.1f} k | {s['max'] / 1e3:,.1f} k |"
                    for r in refs:
                        row += f" {s['median'] / cells[r]['msgs_per_sec']['median']:.2f}x |" if key.startswith("ours") else " |"
                    L.append(row)
            elif test == "wake":
                L.append("The reader blocks in its wait (`read_wait`, `Queue.get`, an eventfd read); latency is from "
                         "the producer's timestamp to the wait's return. Waiter CPU: process time over wall time "
                         "(percent of one core) during a 2 s wait with nothing to receive (idle), and while the "
                         "records arrive. Our reader wakes at least every millisecond to see records of producers "
                         "that do not ring the doorbell (C++ and the original Python package): its idle CPU is the "
                         "kernel's cost of those timer wake-ups, which the 1 ms sleep loop shows alone. With "
                         "`poll_interval=0.05` (queues whose producers all ring) it looks every 50 ms instead; "
                         "its wake-ups still come from the doorbell.\n")
                L.append("| implementation | wake p50 median | p50 min | p50 max | p99 median | p50 vs eventfd | "
                         "waiter CPU idle | waiter CPU at 100 records/s |")
                L.append("|---|---|---|---|---|---|---|---|")
                efd = cells.get("bench:eventfd", {}).get("p50", {}).get("median")
                for key, c in cells.items():
                    if "failed" in c:
                        L.append(f"| {PY_LABELS.get(key, key)} | FAILED: {c['failed'][0]} | | | | | | |")
                        continue
                    ratio = f"{c['p50']['median'] / efd:.2f}x" if efd else ""
                    L.append(f"| {PY_LABELS.get(key, key)} | {fmt_us(c['p50']['median'])} | {fmt_us(c['p50']['min'])} | "
                             f"{fmt_us(c['p50']['max'])} | {fmt_us(c['p99']['median'])} | {ratio} | "
                             f"{c['cpu_idle_pct']['median']:.2f}% | {c['cpu_sparse_pct']['median']:.2f}% |")
            else:
                L.append("| implementation | p50 median | p50 min | p50 max | p99 median | p99.9 median |")
                L.append("|---|---|---|---|---|---|")
                for key, c in cells.items():
                    if "failed" in c:
                        L.append(f"| {PY_LABELS.get(key, key)} | FAILED: {c['failed'][0]} | | | | |")
                        continue
                    L.append(f"| {PY_LABELS.get(key, key)} | {fmt_us(c['p50']['median'])} | {fmt_us(c['p50']['min'])} | "
                             f"{fmt_us(c['p50']['max'])} | {fmt_us(c['p99']['median'])} | {fmt_us(c['p999']['median'])} |")
            cnt = next((c.get("count") for c in cells.values() if c.get("count")), None)
            if cnt:
                L.append(f"\nCount per run: {cnt:,}.")

    L.append("\n## How these figures were made\n")
    L.append("- Rust harness: `bench/src` (`slick-bench run <run> <impl>`, one measurement per process; `slick-bench list` "
             "shows the matrix). Run g also with criterion: `bench/benches/step.rs`.")
    L.append("- Peers: crossbeam `ArrayQueue` (push retried while full), `disruptor` (BusySpin, `EventPoller` consumer on our "
             "own pinned thread; `batch_publish(16)` for run c), `std::sync::mpsc::sync_channel` (`try_recv` polling), "
             "iceoryx2 publish/subscribe (loan, write, send; `receive`). All use the same flow-control window (for the "
             "peers the producer's own count stands in for its index; they also block when full). crossbeam and mpsc "
             "have no batch API, so they have no run c; only iceoryx2 is measured across processes.")
    L.append("- Python: `bench/python/bench_py.py`, run with each implementation's interpreter (our binding and "
             "slick-queue-py 2.3.0 both import as `slick_queue_py`, so each lives in its own virtualenv).")
    L.append("- Bridge runs (z32, z1024, zlat): `bench/src/bridge.rs`. Two Zenoh sessions in one process, TCP on "
             "127.0.0.1, scouting off, inside a private network namespace (`unshare -n`, only `lo`). `bridge`: producer -> "
             "shared-memory queue -> `slick-queue-zenoh` Sender (congestion control Block; busy-polling in zlat) -> Zenoh -> "
             "Receiver -> shared-memory queue -> consumer thread. `zenoh`: `put` of the same payload -> subscriber callback "
             "(Zenoh's own batching for throughput, express for latency). Throughput counts what the consumer received, "
             "from the first put to the last arrival.")
    L.append(f"- Exact command: `{data['command']}`.")
    (out_dir / "BENCHMARKS.md").write_text("\n".join(L) + "\n")
    log(f"wrote {out_dir / 'BENCHMARKS.md'}")


def make_charts(data: dict, charts: Path) -> list[tuple[str, str]]:
    try:
        import matplotlib  # noqa: PLC0415
        import matplotlib.ticker  # noqa: PLC0415

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError:
        log("matplotlib missing: no charts")
        return []
    made = []
    R = data.get("rust", {})
    colors = {"slick": "#d62728", "slick-nolast": "#ff9896", "crossbeam": "#1f77b4", "disruptor": "#2ca02c",
              "mpsc": "#9467bd", "iceoryx2": "#8c564b"}
    thr_runs = [r for r in ("a", "b", "c", "d", "e") if r in R]
    if thr_runs:
        impls = [i for i in IMPL_LABELS if any(i in R[r] and "msgs_per_sec" in R[r][i] for r in thr_runs)]
        fig, ax = plt.subplots(figsize=(10, 5))
        width = 0.8 / max(1, len(impls))
        for k, imp in enumerate(impls):
            xs, ys, lo, hi = [], [], [], []
            for j, run in enumerate(thr_runs):
                c = R[run].get(imp, {})
                if "msgs_per_sec" in c:
                    s = c["msgs_per_sec"]
                    xs.append(j + k * width)
                    ys.append(s["median"] / 1e6)
                    lo.append((s["median"] - s["min"]) / 1e6)
                    hi.append((s["max"] - s["median"]) / 1e6)
            ax.bar(xs, ys, width, yerr=[lo, hi], capsize=2, label=IMPL_LABELS[imp], color=colors.get(imp))
        ax.set_xticks([j + width * (len(impls) - 1) / 2 for j in range(len(thr_runs))])
        short = {"a": "a: SPSC u64", "b": "b: SPSC 64 B", "c": "c: batch 16", "d": "d: 2 prod + 1 cons",
                 "e": "e: across processes"}
        ax.set_xticklabels([short[r] for r in thr_runs], fontsize=9)
        ax.set_ylabel("million messages / s (median, bars: min-max)")
        ax.set_title("Throughput, Rust (higher is better)")
        ax.set_yscale("log")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(charts / "throughput.png", dpi=110)
        plt.close(fig)
        made.append(("throughput.png", "Rust throughput, runs a-e"))
    curves = {}
    if "f" in R:
        for imp, c in R["f"].items():
            if "curve" in c:
                curves[IMPL_LABELS[imp]] = (c["curve"], colors.get(imp))
    P = data.get("python", {}).get("results", {}).get("pingpong", {})
    py_colors = {"ours:slick-readme": "#e377c2", "ours:slick-fast": "#bcbd22", "ours:slick-batch": "#9467bd",
                 "peer:slick-readme": "#17becf",
                 "bench:mpqueue": "#7f7f7f", "bench:faster-fifo": "#ff7f0e", "bench:iceoryx2": "#c49c94"}
    for key, c in P.items():
        if "curve" in c:
            curves["Python: " + PY_LABELS.get(key, key)] = (c["curve"], py_colors.get(key))
    if curves:
        import math  # noqa: PLC0415

        fig, ax = plt.subplots(figsize=(10, 5))
        for label, (curve, color) in curves.items():
            pts = [(p, v) for p, v in curve if p < 100]
            xs = [1 / (1 - p / 100) for p, _ in pts]
            ax.plot(xs, [v / 1e3 for _, v in pts], marker=".", label=label, color=color,
                    linestyle="--" if label.startswith("Python: ") else "-")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ticks = [1, 2, 10, 100, 1000, 10000, 100000]
        ax.set_xticks(ticks)
        ax.set_xticklabels(["0%", "50%", "90%", "99%", "99.9%", "99.99%", "99.999%"])
        ax.set_xlabel("percentile")
        ax.set_ylabel("round trip, µs")
        ax.set_title("Ping-pong round trip across processes (run f; lower is better)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(charts / "latency.png", dpi=110)
        plt.close(fig)
        made.append(("latency.png", "Ping-pong latency percentiles"))
        del math
    PX = data.get("python", {}).get("results", {}).get("xput", {})
    PS = data.get("python", {}).get("results", {}).get("step", {})
    if PX or PS:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
        for ax, cells, field, title, scale, unit in (
            (axes[0], PS, "step_ns", "Per item, produce + consume (lower is better)", 1e3, "µs"),
            (axes[1], PX, "msgs_per_sec", "Cross-process throughput (higher is better)", 1e3, "k msgs/s"),
        ):
            keys = [k for k in cells if field in cells[k]]
            ys = [cells[k][field]["median"] / scale for k in keys]
            bars = ax.barh([PY_LABELS.get(k, k) for k in keys], ys,
                           color=["#d62728" if k.startswith("ours") else "#7f7f7f" for k in keys])
            ax.bar_label(bars, labels=[f"{y:,.2f}" if y < 10 else f"{y:,.0f}" for y in ys], fontsize=7, padding=2)
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            ax.set_xlim(right=max(ys) * 3 if ys else None)
            ax.set_xlabel(unit)
            ax.set_title(title, fontsize=10)
            ax.tick_params(axis="y", labelsize=7)
        fig.tight_layout()
        fig.savefig(charts / "python.png", dpi=110)
        plt.close(fig)
        made.append(("python.png", "Python: per-item cost and cross-process throughput"))
    return made


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny counts, 1 repetition, no docs unless --out-dir")
    ap.add_argument("--reps", type=int, default=None, help="process runs per cell (default 5; smoke 1)")
    ap.add_argument("--runs", default=",".join(RUNS), help="Rust run ids, comma-separated (default all)")
    ap.add_argument("--no-rust", action="store_true")
    ap.add_argument("--no-python", action="store_true")
    ap.add_argument("--no-criterion", action="store_true")
    ap.add_argument("--py-tests", default=",".join(PY_TESTS), help="Python tests, comma-separated (default all)")
    ap.add_argument("--py-ours", default=os.environ.get("SLICK_BENCH_PY_OURS"), help="python with our binding")
    ap.add_argument("--py-peer", default=os.environ.get("SLICK_BENCH_PY_PEER"), help="python with slick-queue-py 2.3.0")
    ap.add_argument("--out-dir", default=None, help="where BENCHMARKS.md and bench/ go (default docs/, none for --smoke)")
    ap.add_argument("--json", default=None, help="also write the results JSON here")
    ap.add_argument("--render-only", metavar="RESULTS_JSON", help="re-render the docs from a results JSON")
    ap.add_argument("--merge-into", metavar="RESULTS_JSON",
                    help="run only the given --runs and merge them into this results JSON (replacing those runs), "
                         "then render; the docs say which runs were measured when, by which command")
    ap.add_argument("--command", default=os.environ.get("SLICK_BENCH_COMMAND"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    started = time.monotonic()

    if args.render_only:
        data = json.loads(Path(args.render_only).read_text())
        render(data, Path(args.out_dir or ROOT / "docs"))
        return

    if args.merge_into:
        base = json.loads(Path(args.merge_into).read_text())
        runs = [r for r in args.runs.split(",") if r]
        reps = args.reps or 5
        info = machine_info()
        part = rust_runs(runs, reps, False)
        info["load_after"] = os.getloadavg()
        base.setdefault("rust", {}).update(part)
        base.setdefault("merged", []).append({
            "runs": runs, "reps": reps, "date": info["date"], "commit": info["commit"], "cpu": info["cpu"],
            "load_before": info["load_before"], "load_after": info["load_after"],
            "command": args.command or invocation(),
        })
        Path(args.merge_into).write_text(json.dumps(base, indent=1))
        render(base, Path(args.out_dir or ROOT / "docs"))
        for t, v, ok in targets(base):
            log(f"target: {t}: {v}: {ok}")
        if any("failed" in c for cells in part.values() for c in cells.values()):
            sys.exit(1)
        return

    reps = args.reps or (1 if args.smoke else 5)
    data = {
        "machine": machine_info(),
        "reps": reps,
        "smoke": args.smoke,
        "command": args.command or invocation(),
    }
    failed = False
    if not args.no_rust:
        runs = [r for r in args.runs.split(",") if r]
        data["rust"] = rust_runs(runs, reps, args.smoke)
        if "g" in runs and not args.no_criterion:
            log("criterion (run g)" + (" --test" if args.smoke else ""))
            data["criterion_g"] = criterion_g(args.smoke)
            failed |= "error" in data["criterion_g"]
        failed |= any("failed" in c for cells in data["rust"].values() for c in cells.values())
    if not args.no_python:
        data["python"] = python_runs(args, reps, args.smoke)
        failed |= any("failed" in c for cells in data["python"]["results"].values() for c in cells.values())
    data["machine"]["load_after"] = os.getloadavg()
    # Wall time of the measurements (bench/run's builds and pip installs
    # come before this script starts).
    data["machine"]["seconds"] = round(time.monotonic() - started)
    if args.json:
        Path(args.json).write_text(json.dumps(data, indent=1))
    out_dir = args.out_dir or (None if args.smoke else str(ROOT / "docs"))
    if out_dir:
        render(data, Path(out_dir))
    if not args.smoke:
        for t, v, ok in targets(data):
            log(f"target: {t}: {v}: {ok}")
    if failed:
        log("some cells FAILED (see above)")
        sys.exit(1)


if __name__ == "__main__":
    main()
