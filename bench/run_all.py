"""Run every benchmark and print one table: figure, target, ratio, met?

Each script runs as its own subprocess (its output is shown as it runs); the
figures come from their RESULT lines (crawl, cpu, memory, startup) or, for the
extraction and store scripts, from their printed lines, with the targets their
issues set. Ratio <= 1 means the target is met (value/target for a ceiling,
target/value for a floor).

    .venv/bin/python bench/run_all.py           # full: ~20 min on 2 cores
    .venv/bin/python bench/run_all.py --quick   # ~4 min: smaller scales, said in the table
"""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import PYTHON, ROOT, Result, machine, parse_results, table

BENCH = ROOT / "bench"
STORE_TARGETS = {  # key printed by bench/store.py -> (figure, unit, target, ceiling?)
    "unchanged_apply_ms": ("apply of an unchanged 1,000-listing crawl", "ms", 20.0, True),
    "unchanged_full_path_ms": ("unchanged crawl, known->diff->apply", "ms", 20.0, True),
    "ingest_per_s": ("ingest of new listings (leakmon run)", "/s", 20_000.0, False),
    "ingest_with_checkpoint_per_s": (
        "the same, background checkpoint counted",
        "/s",
        20_000.0,
        False,
    ),
    "ingest_oneshot_per_s": (
        "the same, checkpoint in the commit (one-shot)",
        "/s",
        20_000.0,
        False,
    ),
    "ingest_sqlite_floor_per_s": (
        "the schema's SQLite floor (prebuilt rows, inserts only)",
        "/s",
        20_000.0,
        False,
    ),
    "show_ms": ("show (listing + history)", "ms", 10.0, True),
    "fts_rare_ms": ("full-text search, rare term", "ms", 50.0, True),
    "fts_common_limit100_ms": ("full-text search, common term, 100 rows", "ms", 50.0, True),
}


def plan(quick: bool, tmp: Path, store_scale: str | None) -> list[tuple[str, list[str]]]:
    """(bench name, argv) for every script."""
    scale = store_scale or ("0.1" if quick else "1")
    return [
        ("crawl", ["crawl.py", "--scale", "0.1"] if quick else ["crawl.py", "--full"]),
        ("cpu", ["cpu.py", "--crawls", "10" if quick else "30"]),
        ("extract", ["extract.py", "--seconds", "1" if quick else "2"]),
        ("store", ["store.py", "--scale", scale, "--db", str(tmp / "store.db")]),
        ("startup", ["startup.py", "--runs", "5" if quick else "11"]),
        ("memory", ["memory.py", "--cycles", "200" if quick else "1000"]),
    ]


def run(argv: list[str]) -> tuple[int, str]:
    """Run one script, echoing its output; (exit code, output)."""
    proc = subprocess.Popen(
        [PYTHON, str(BENCH / argv[0]), *argv[1:]],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if not line.startswith("RESULT "):
            sys.stdout.write("  | " + line)
            sys.stdout.flush()
    return proc.wait(), "".join(lines)


def extract_results(output: str) -> list[Result]:
    """bench/extract.py's ratios (targets: >= 15x BeautifulSoup; within 2x of selectolax)."""
    found: list[Result] = []
    ms = re.search(r"\(a\) leakmon full extraction\s*:\s*([\d.]+) ms/page", output)
    if ms:
        print(f"  extraction of the 200 KB page: {ms.group(1)} ms")
    soup = re.search(r"a/c = ([\d.]+)x", output)
    if soup:
        found.append(
            Result("extract", "leakmon speed / BeautifulSoup+lxml", float(soup.group(1)), "x", 15.0,
                   lower_is_better=False)
        )  # fmt: skip
    bare = re.search(r"b/a = ([\d.]+)x", output)
    if bare:
        found.append(Result("extract", "leakmon time / bare selectolax", float(bare.group(1)),
                            "x", 2.0))  # fmt: skip
    cold = re.search(r"b/a with nothing memoised = ([\d.]+)x", output)
    if cold:
        found.append(Result("extract", "same, every row new (nothing memoised)",
                            float(cold.group(1)), "x", 2.0))  # fmt: skip
    return found


def store_results(output: str) -> list[Result]:
    """bench/store.py's `key: value` lines against the lifecycle issue's targets."""
    values = dict(re.findall(r"^\s*(\w+): (.+)$", output, re.MULTILINE))
    found = [
        Result("store", figure, float(values[key]), unit, target, lower_is_better=ceiling)
        for key, (figure, unit, target, ceiling) in STORE_TARGETS.items()
        if key in values
    ]
    if "growth_rows" in values:
        rows = ast.literal_eval(values["growth_rows"])
        per_crawl = sum(rows.values()) / 1000
        found.append(Result("store", "rows written per unchanged crawl", per_crawl, "rows", 1.0,
                            note=str(rows)))  # fmt: skip
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller scales (a few minutes)")
    parser.add_argument("--only", nargs="*", help="bench names to run (default: all)")
    parser.add_argument("--store-scale", help="bench/store.py --scale (1: 1M listings)")
    args = parser.parse_args()
    results: list[Result] = []
    failed: list[str] = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for name, argv in plan(args.quick, Path(tmp), args.store_scale):
            if args.only and name not in args.only:
                continue
            print(f"\n=== {name}: bench/{' '.join(argv)}", flush=True)
            code, output = run(argv)
            if name == "extract":
                found = extract_results(output)
            elif name == "store":
                found = store_results(output)
            else:
                found = parse_results(output)
            if code != 0 or not found:
                failed.append(f"{name} (exit {code}, {len(found)} figures)")
            results.extend(found)
    mode = "quick (--quick: smaller scales)" if args.quick else "full"
    if args.store_scale:
        mode += f", store at --scale {args.store_scale}"
    print(f"\n{machine()}; {mode} run in {time.perf_counter() - t0:.0f}s\n")
    print(table(results))
    met = sum(r.met for r in results)
    print(f"\n{met} of {len(results)} targets met.")
    if failed:
        print("benches that failed or printed no figures: " + ", ".join(failed))
        sys.exit(1)


if __name__ == "__main__":
    main()
