"""Run every benchmark, one after the other, each in a process of its own.

    python bench/run_all.py --quick      what CI runs: small sizes, a few minutes on 2 cores
    python bench/run_all.py              the full sizes (the figures in the README)

Options after these (`--no-pg`, `--pg-url URL`) are passed on to every benchmark. The run fails
(exit 1) only when a benchmark crashes or finds the database wrong; a missed performance target is
printed as `MISSED` and listed at the end, but does not fail it.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SCRIPTS = ["ack_latency.py", "claim_arbitration.py", "fanout.py", "digest_scale.py", "idle_footprint.py"]


def main() -> int:
    args = sys.argv[1:]
    crashed, missed = [], []
    started = time.perf_counter()
    for name in SCRIPTS:
        t = time.perf_counter()
        proc = subprocess.Popen([sys.executable, str(BENCH / name), *args], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, bufsize=1)
        for line in proc.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            if "target MISSED" in line:
                missed.append(f"{name}: {line.split('·', 1)[-1].strip()}")
        code = proc.wait()
        print(f"[{name}: exit {code} in {time.perf_counter() - t:.1f} s]\n", flush=True)
        if code != 0:
            crashed.append(f"{name} (exit {code})")
    print(f"== {len(SCRIPTS)} benchmarks in {time.perf_counter() - started:.0f} s")
    if missed:
        print(f"targets missed ({len(missed)}; they do not fail the run):")
        for line in missed:
            print(f"  {line}")
    if crashed:
        print("FAILED: " + ", ".join(crashed))
        return 1
    print("every benchmark ran to the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
