"""Polls dashboards' APIs from its own process (away from the simulated fleet's threads) and times each answer.

``python -m tests.city.probe OUT URL...``: until SIGTERM, GET ``api/alerts?limit=100`` and
``api/drones`` of each URL in turn every 0.1 s; then write ``{"ms": {path: [...]}, "errors": N}`` to OUT.
SIGUSR1 drops the last URL (a dashboard about to be killed).
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
import urllib.request


def main(argv: list[str]) -> int:
    out, urls = argv[0], argv[1:]
    stop = threading.Event()
    drop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGUSR1, lambda *_: drop.set())
    paths = ["api/alerts?limit=100", "api/drones"]
    latencies_ms: dict[str, list[float]] = {p: [] for p in paths}
    errors = 0
    i = 0
    while not stop.is_set():
        if drop.is_set() and len(urls) > 1:
            urls = urls[:-1]
            drop.clear()
        path = paths[(i // len(urls)) % len(paths)]
        url = urls[i % len(urls)] + path
        t0 = time.perf_counter()
        try:
            with urllib.request.urlopen(url, timeout=5.0) as resp:
                json.loads(resp.read())
            latencies_ms[path].append((time.perf_counter() - t0) * 1000.0)
        except OSError:
            errors += 1
        i += 1
        stop.wait(0.1)
    with open(out, "w") as f:
        json.dump({"ms": latencies_ms, "errors": errors}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
