"""A drone publisher in its own process, for the kill tests: ``python -m tests.alerts.publisher_proc``.

Publishes alerts ``--start`` .. ``--count``-1 with deterministic event ids and prints
``queued <id>`` once each is committed to the outbox; prints ``connected`` when the
broker session is up and ``flushed`` when the outbox is empty, then idles until
killed (``--exit`` makes it stop cleanly instead). ``--threads N`` publishes from N
threads at once (alert ``i`` from thread ``i % N``), so ``queued`` lines come in any order;
``--batch B`` hands each thread's alerts over B at a time (``publish_alerts``).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

from drone_patrol.alerts.publisher import AlertPublisher
from drone_patrol.core.types import AlertKind
from tests.alerts.helpers import DRONE, SITE, event_id, fast_config, make_alert, wait_until


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--broker", required=True)
    ap.add_argument("--outbox", required=True, type=Path)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--count", type=int, default=0)
    ap.add_argument("--pause-every", type=int, default=0, help="sleep 10 ms every N alerts (spreads the burst)")
    ap.add_argument("--threads", type=int, default=1, help="publish from this many threads at once")
    ap.add_argument("--batch", type=int, default=1, help="alerts a call (publish_alerts when more than 1)")
    ap.add_argument("--synchronous", choices=("FULL", "NORMAL"), default="NORMAL", help="the outbox's durability")
    ap.add_argument("--exit", action="store_true")
    args = ap.parse_args()
    config = fast_config(args.broker, args.outbox, outbox_synchronous=args.synchronous)
    pub = AlertPublisher(config, SITE, DRONE).start()
    pub.publish_status("online", mission_state="patrolling", battery_percent=80)
    if wait_until(lambda: pub.connected, 5.0):
        print("connected", flush=True)
    out = threading.Lock()

    def publish(first: int) -> None:
        mine = range(first, args.count, args.threads)
        for k in range(0, len(mine), args.batch):
            numbers = mine[k : k + args.batch]
            alerts = [make_alert(AlertKind.THERMAL_HOTSPOT, i, alert_id=event_id(i)) for i in numbers]
            if args.batch == 1:
                pub.publish_alert(alerts[0])
            else:
                pub.publish_alerts(alerts)
            with out:  # whole lines, whichever thread returned
                sys.stdout.write("".join(f"queued {event_id(i)}\n" for i in numbers))
                sys.stdout.flush()
            if args.pause_every and any(i % args.pause_every == 0 for i in numbers):
                time.sleep(0.01)

    workers = [threading.Thread(target=publish, args=(args.start + k,)) for k in range(args.threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if pub.flush(30.0):
        print(f"flushed {pub.outbox_depth}", flush=True)
    if args.exit:
        pub.stop()
        return 0
    while True:
        time.sleep(1.0)


if __name__ == "__main__":
    sys.exit(main())
