#!/usr/bin/env python3
"""Times whole processes and reports peak RSS (os.wait4's ru_maxrss).

    scripts/bench.py NAME [--runs N] [--bytes B] [--per-op N] -- CMD ARGS...

Prints one line: name, median and min wall time, peak RSS (MiB, max over runs), MB/s
when --bytes gives how many bytes one run reads+writes, and microseconds per op (median)
and the least CPU time of the runs when --per-op gives the model's op count.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time


def run_once(cmd):
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    elapsed = time.perf_counter() - t0
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"bench: {' '.join(cmd)} exited {code}: {err.strip()}")
    return elapsed, usage.ru_maxrss / 1024.0, usage.ru_utime + usage.ru_stime  # MiB, CPU seconds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("name")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--bytes", type=int, default=0)
    ap.add_argument("--per-op", type=int, default=0)
    argv = sys.argv[1:]
    if "--" not in argv:
        sys.exit("bench: usage: bench.py NAME [--runs N] [--bytes B] -- CMD ...")
    split = argv.index("--")
    a = ap.parse_args(argv[:split])
    cmd = argv[split + 1:]
    times, rss, cpu = [], [], []
    for _ in range(a.runs):
        t, r, c = run_once(cmd)
        times.append(t)
        rss.append(r)
        cpu.append(c)
    med = statistics.median(times)
    line = f"{a.name:<44} median {med:8.3f} s  min {min(times):8.3f} s  peak RSS {max(rss):8.1f} MiB"
    if a.bytes:
        line += f"  {a.bytes / med / 1e9:6.2f} GB/s"
    if a.per_op:
        # CPU time (user + system, all threads) moves less than wall time on a shared machine.
        line += f"  {med / a.per_op * 1e6:8.2f} us/op  cpu min {min(cpu):8.3f} s"
    print(line, flush=True)


if __name__ == "__main__":
    main()
