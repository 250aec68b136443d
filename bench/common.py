"""Shared helpers for the bench scripts: result rows, the machine, RSS, stage
timers and one table.

Each bench script prints its own figures, then one `RESULT {json}` line per target
so that bench/run_all.py can gather every figure into one table.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
PYTHON = sys.executable
RESULT_PREFIX = "RESULT "


@dataclass(frozen=True)
class Result:
    """One figure against its target. `lower_is_better`: the target is a ceiling."""

    bench: str
    figure: str
    value: float
    unit: str
    target: float
    lower_is_better: bool = True
    note: str = ""

    @property
    def ratio(self) -> float:
        """value / target for a ceiling, target / value for a floor (<= 1: met)."""
        if self.lower_is_better:
            return self.value / self.target if self.target else float("inf")
        return self.target / self.value if self.value else float("inf")

    @property
    def met(self) -> bool:
        return self.ratio <= 1.0


def emit(result: Result) -> None:
    """Print a human line and the machine-readable RESULT line."""
    op = "<=" if result.lower_is_better else ">="
    verdict = "MET" if result.met else "NOT MET"
    print(
        f"  {result.figure}: {result.value:.4g} {result.unit} (target {op} {result.target:g}"
        f" {result.unit}; ratio {result.ratio:.2f}) {verdict}"
        + (f" — {result.note}" if result.note else ""),
        flush=True,
    )
    print(RESULT_PREFIX + json.dumps(asdict(result)), flush=True)


def parse_results(output: str) -> list[Result]:
    return [
        Result(**json.loads(line[len(RESULT_PREFIX) :]))
        for line in output.splitlines()
        if line.startswith(RESULT_PREFIX)
    ]


def table(results: Sequence[Result]) -> str:
    """One aligned table: bench, figure, value, target, ratio, met?"""
    rows = [("bench", "figure", "value", "target", "ratio", "met?")]
    for r in results:
        op = "<=" if r.lower_is_better else ">="
        rows.append(
            (
                r.bench,
                r.figure,
                f"{r.value:.4g} {r.unit}",
                f"{op} {r.target:g} {r.unit}",
                f"{r.ratio:.2f}",
                "yes" if r.met else "NO",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def machine() -> str:
    """CPU model, cores and Python version: the line every figure needs beside it."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{model}, {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


def rss_mb(pid: int | str = "self") -> float | None:
    """VmRSS of a process in MB (10^6 bytes), None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024 / 1e6
    except OSError:
        return None
    return None


def median_run(argv: Sequence[str], runs: int, env: dict[str, str] | None = None) -> float:
    """Median wall seconds of `argv` as a subprocess (one warm-up run first)."""
    times: list[float] = []
    for i in range(runs + 1):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=env)
        if i:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


class Stopwatch:
    """Thread CPU seconds per stage, accumulated by wrapped callables."""

    def __init__(self) -> None:
        self.cpu: Counter[str] = Counter()

    def wrap(self, stage: str, func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.thread_time()
            try:
                return func(*args, **kwargs)
            finally:
                self.cpu[stage] += time.thread_time() - t0

        return timed


class Timed:
    """A proxy timing every method call of `inner` under one stage."""

    def __init__(self, inner: Any, stage: str, watch: Stopwatch) -> None:
        self._inner, self._stage, self._watch = inner, stage, watch

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        return self._watch.wrap(self._stage, attr) if callable(attr) else attr


def timed(func: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    func()
    return time.perf_counter() - t0
