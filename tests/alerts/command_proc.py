"""A drone taking "eyes on" commands in its own process, for the kill tests: ``python -m tests.alerts.command_proc``.

It runs the drone's real MQTT link (:class:`AlertPublisher`, persistent session, manual
PUBACKs) and the service's real ledger of answered commands (:class:`PersistentLedger`
on ``--ledger``), with a handler that works like the patrol service's: a worker thread
takes each :class:`CommandDelivery`, decides with the ledger, queues the answer in the
outbox and then calls ``taken()``. Printed, one line each: ``connected`` (and subscribed),
``received <id> dup=<0|1>``, ``run <id>`` (the command is judged and would be flown:
this must happen once per command, whatever the restarts), ``answered <id> <state>``;
after ``taken()`` the retained status says ``last_taken: <id>``.

``--stall before`` blocks the worker after ``received`` (the drone went down before
handling the command); ``--stall after`` blocks it after ``answered`` but before
``taken()`` (down after recording, before the PUBACK). The test kills it with SIGKILL.
"""

from __future__ import annotations

import argparse
import queue
import sys
import threading
from pathlib import Path

from drone_patrol.alerts.delivery import CommandDelivery
from drone_patrol.alerts.eyes_on import CommandSchemaError, EyesOnCommand
from drone_patrol.alerts.publisher import AlertPublisher
from drone_patrol.core.types import GeoPoint
from drone_patrol.planner.eyes_on import Excursion
from drone_patrol.service.command_memory import PersistentLedger
from tests.alerts.helpers import DRONE, SITE, fast_config, wait_until

P = GeoPoint(25.28, 110.29)
GO = Excursion(P, P, (P,), 40.0, 10.0, 0.1, 0.6, 50.0, 100.0)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--broker", required=True)
    ap.add_argument("--outbox", required=True, type=Path)
    ap.add_argument("--ledger", required=True, type=Path)
    ap.add_argument("--stall", choices=("before", "after"))
    ap.add_argument("--mqtt", default="auto", help="MQTT version: auto, 5 or 3.1.1")
    args = ap.parse_args()
    ledger = PersistentLedger(args.ledger, SITE, DRONE)
    # the default client id, dronepatrol-<site>-<drone>: every restart takes up the same session
    pub = AlertPublisher(fast_config(args.broker, args.outbox, mqtt_version=args.mqtt), SITE, DRONE)
    inbox: queue.Queue[CommandDelivery] = queue.Queue()

    def judge(cmd: EyesOnCommand) -> Excursion:
        print(f"run {cmd.command_id}", flush=True)
        return GO

    def work() -> None:
        while True:
            delivery = inbox.get()
            cmd = delivery.command
            cid = cmd.command_id if not isinstance(cmd, CommandSchemaError) else cmd.command_id or "?"
            print(f"received {cid} dup={int(delivery.dup)}", flush=True)
            if args.stall == "before":
                threading.Event().wait()
            decision = ledger.receive(cmd, flying_patrol=True, judge=judge)
            if decision.state is not None and decision.command_id is not None:
                pub.publish_command_result(decision.command_id, decision.state, decision.reason)
                print(f"answered {cid} {decision.state.value}", flush=True)
            if args.stall == "after":
                threading.Event().wait()
            delivery.taken()
            # the status goes out after the PUBACK on the same connection: once the room has it,
            # the broker has the PUBACK too
            pub.publish_status("online", last_taken=cid)

    threading.Thread(target=work, daemon=True).start()
    pub.start()
    if wait_until(lambda: pub.connected and pub.listening, 20.0):  # subscribed: commands now reach it
        print("connected", flush=True)
    pub.on_command_delivery(inbox.put)  # after connecting: a redelivery waits for the handler, unacknowledged
    threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
