"""Start-up: `leakmon --help` and `leakmon listings` on a 100k-listing database.

`leakmon listings` prints every listing (100k table rows, ~12 MB); the same with
`--limit 50` shows what start-up costs when the output is a screenful.

Median wall time of N subprocess runs (after one warm-up run, so the page cache is
warm) of the installed console script (.venv/bin/leakmon, else python -m monitor).
The database comes from bench/store.py's generator at scale 0.1 (100k listings,
500k observations). Then `python -X importtime` of each command: the five slowest
imports (cumulative) and the time the command spends after its imports.

    .venv/bin/python bench/startup.py [--runs 11] [--listings 100000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

from common import PYTHON, Result, emit, machine, median_run
from store import generate

from monitor.store import Store


def leakmon() -> list[str]:
    script = Path(PYTHON).with_name("leakmon")
    return [str(script)] if script.exists() else [PYTHON, "-m", "monitor"]


def make_db(path: Path, listings: int) -> float:
    """Generate the database; seconds it took."""
    t0 = time.perf_counter()
    with Store.open(path) as store:
        generate(store, listings / 1_000_000)
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return time.perf_counter() - t0


def import_top(args: list[str], env: dict[str, str], top: int = 5) -> tuple[float, list[str]]:
    """Total import seconds and the `top` heaviest packages outside monitor (cumulative)."""
    proc = subprocess.run(
        [PYTHON, "-X", "importtime", "-m", "monitor", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=True,
    )
    top_level: list[tuple[int, str]] = []
    packages: dict[str, int] = {}  # outside monitor: the heaviest entry per package
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        if not line.startswith("import time:") or len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        us, name = int(parts[1]), parts[2].strip()
        if len(parts[2]) - len(parts[2].lstrip(" ")) == 1:
            top_level.append((us, name))
        root = name.split(".")[0]
        if root not in ("monitor", "site", "encodings"):
            packages[root] = max(packages.get(root, 0), us)
    total = sum(us for us, _ in top_level) / 1e6
    heavy = sorted(((us, n) for n, us in packages.items()), reverse=True)[:top]
    return total, [f"{us / 1000:7.1f} ms  {name}" for us, name in heavy]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--listings", type=int, default=100_000)
    args = parser.parse_args()
    print(f"startup bench: {machine()}")
    env = {**os.environ, "NO_COLOR": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "listings.db"
        seconds = make_db(db, args.listings)
        size = sum(p.stat().st_size for p in db.parent.glob(db.name + "*")) / 1e6
        print(f"database: {args.listings:,} listings, {size:.0f} MB, generated in {seconds:.1f}s")
        cases = [
            ("leakmon --help", ["--help"], 150.0),
            (f"leakmon listings ({args.listings:,})", ["listings", "--db", str(db)], 300.0),
            ("leakmon listings --limit 50", ["listings", "--db", str(db), "--limit", "50"], 300.0),
        ]
        results = []
        for label, argv, target in cases:
            ms = 1000 * median_run([*leakmon(), *argv], args.runs, env)
            total, top = import_top(argv, env)
            print(f"\n{label}: median {ms:.0f} ms of {args.runs}; imports {1000 * total:.0f} ms")
            print("  heaviest imported packages (cumulative, incl. their own imports):")
            for line in top:
                print(f"    {line}")
            results.append(Result("startup", f"{label}, median of {args.runs}", ms, "ms", target))
        baseline = 1000 * median_run([PYTHON, "-c", "pass"], args.runs, env)
        print(f"\nbare interpreter start-up (python -c pass): {baseline:.0f} ms")
    for result in results:
        emit(result)


if __name__ == "__main__":
    main()
