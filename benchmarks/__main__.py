"""Run the benchmarks, print one table per benchmark and write them to ``benchmarks/results/``.

Each ``benchmarks/bench_<name>.py`` module defines ``TITLE`` and ``run() -> list[dict]``;
every dict is one row (the same keys in every row). A row may carry a ``target`` and a
``ok`` column so that a missed target is visible in the table. Select benchmarks by
name: ``python -m benchmarks planner alerts``.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import platform
import sys
import time
from pathlib import Path
from typing import Any

import benchmarks

RESULTS = Path(__file__).resolve().parent / "results"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e6 else f"{value:.3e}"
    return str(value)


def format_table(rows: list[dict[str, Any]]) -> str:
    """Render rows as a GitHub-flavoured Markdown table."""
    if not rows:
        return "(no rows)"
    keys: list[str] = []
    for row in rows:
        keys.extend(k for k in row if k not in keys)
    cells = [[_fmt(row.get(k, "")) for k in keys] for row in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    line = lambda vals: "| " + " | ".join(v.ljust(w) for v, w in zip(vals, widths, strict=True)) + " |"  # noqa: E731
    out = [line(keys), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out.extend(line(c) for c in cells)
    return "\n".join(out)


def main(argv: list[str]) -> int:
    names = sorted(
        m.name[len("bench_") :] for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_")
    )
    chosen = [n for n in names if not argv or n in argv]
    unknown = [a for a in argv if a not in names]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; have: {', '.join(names)}", file=sys.stderr)
        return 2
    RESULTS.mkdir(parents=True, exist_ok=True)
    report = [
        f"# drone-patrol benchmarks\n\n{time.strftime('%Y-%m-%d %H:%M:%S')} on {platform.node()}, "
        f"Python {platform.python_version()}, {platform.machine()}\n"
    ]
    failed = 0
    for name in chosen:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        title = getattr(module, "TITLE", name)
        print(f"\n## {title}\n", flush=True)
        started = time.perf_counter()
        try:
            rows = module.run()
        except Exception as exc:  # a broken benchmark must not hide the others
            failed += 1
            rows = [{"error": f"{type(exc).__name__}: {exc}"}]
        table = format_table(rows)
        print(table)
        print(f"\n({time.perf_counter() - started:.1f} s)")
        report.append(f"## {title}\n\n{table}\n")
        (RESULTS / f"{name}.json").write_text(json.dumps(rows, indent=2, default=str) + "\n")
    (RESULTS / "results.md").write_text("\n".join(report))
    print(f"\nwritten: {RESULTS / 'results.md'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
