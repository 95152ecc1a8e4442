#!/usr/bin/env python3
"""Runs a command RUNS times, stdin from a file, no shell, and prints what the kernel
accounted to each run as a JSON list (used by scripts/bench.sh for the build-route rows).

Usage: bench_spawn.py RUNS WARMUP INPUT [--prepare SHELL_COMMAND] -- COMMAND [ARG...]

Per run, from posix_spawn and wait4 (the child's own rusage, nothing of ours):
wall ms (spawn to reaped), user and system CPU ms, minor and major page faults,
peak RSS KiB. PREPARE runs (through sh) before every run, untimed. A run that
exits non-zero stops the benchmark: a failed `get` must not be timed.
"""
import json
import os
import subprocess
import sys
import time

runs, warmup, input_path, *rest = sys.argv[1:]
prepare = None
if rest[0] == "--prepare":
    prepare, rest = rest[1], rest[2:]
if rest[0] != "--":
    sys.exit(__doc__)
command = rest[1:]

devnull = os.open(os.devnull, os.O_WRONLY)
results = []
for i in range(int(warmup) + int(runs)):
    if prepare:
        subprocess.run(prepare, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    stdin = os.open(input_path, os.O_RDONLY)
    start = time.perf_counter()
    pid = os.posix_spawnp(
        command[0],
        command,
        os.environ,
        file_actions=[
            (os.POSIX_SPAWN_DUP2, stdin, 0),
            (os.POSIX_SPAWN_DUP2, devnull, 1),
            (os.POSIX_SPAWN_DUP2, devnull, 2),
        ],
    )
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    os.close(stdin)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench_spawn.py: {' '.join(command)} exited with {os.waitstatus_to_exitcode(status)}")
    if i >= int(warmup):
        results.append(
            {
                "wall": wall * 1000,
                "user": usage.ru_utime * 1000,
                "system": usage.ru_stime * 1000,
                "minflt": usage.ru_minflt,
                "majflt": usage.ru_majflt,
                "maxrss": usage.ru_maxrss,
            }
        )
json.dump(results, sys.stdout)
