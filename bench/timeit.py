#!/usr/bin/env python3
"""Times whole commands, hyperfine-style, without needing hyperfine's --input
(Debian's hyperfine 1.15 lacks it). Each command runs RUNS times (after WARMUP
runs), interleaved with the others so background noise hits all alike, with
stdin from a file; prints median, p10 and p90 wall time in milliseconds.

usage: timeit.py RUNS WARMUP NAME STDIN_FILE -- CMD... [;; NAME STDIN_FILE -- CMD...]
"""
import statistics, subprocess, sys, time

def parse(argv):
    runs, warm = int(argv[0]), int(argv[1])
    specs, cur = [], argv[2:]
    while cur:
        name, stdin = cur[0], cur[1]
        assert cur[2] == "--", "expected -- after NAME STDIN"
        rest = cur[3:]
        end = rest.index(";;") if ";;" in rest else len(rest)
        specs.append((name, stdin, rest[:end]))
        cur = rest[end + 1:]
    return runs, warm, specs

def once(stdin, cmd):
    with open(stdin, "rb") as f:
        t = time.perf_counter()
        r = subprocess.run(cmd, stdin=f, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        dt = (time.perf_counter() - t) * 1000
    if r.returncode != 0:
        sys.exit(f"{cmd} failed ({r.returncode}): {r.stderr.decode(errors='replace')}")
    return dt

def main():
    runs, warm, specs = parse(sys.argv[1:])
    times = {name: [] for name, _, _ in specs}
    for i in range(warm + runs):
        for name, stdin, cmd in specs:
            dt = once(stdin, cmd)
            if i >= warm:
                times[name].append(dt)
    for name, _, _ in specs:
        t = sorted(times[name])
        q = lambda p: t[min(len(t) - 1, int(p * len(t)))]
        print(f"{name:<28} median {statistics.median(t):8.2f} ms   p10 {q(0.1):8.2f}   p90 {q(0.9):8.2f}   (n={len(t)})")

main()
