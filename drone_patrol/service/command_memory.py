"""The drone's answered command ids, kept on disk: a redelivered command is never run twice.

Commands arrive at QoS 1 on a persistent MQTT session, so the broker delivers a
command again when the drone did not acknowledge it before it went away (the patrol
service restarted, the link dropped). :class:`~drone_patrol.service.eyes_on_rules.CommandLedger`
answers a repeat from memory; :class:`PersistentLedger` keeps that memory across a
restart in ``<site.data_dir>/commands/<drone_id>.json``:

- every step is written (atomically, a temporary file renamed over the old one) before
  the drone answers it, so what the broker may redeliver is always on disk;
- the last ``remember`` command ids are kept (oldest forgotten first);
- a command that was in progress (accepted, en route, on station) when the service
  stopped has no excursion any more: on loading it becomes ``failed`` with reason
  ``interrupted`` (listed in :attr:`PersistentLedger.interrupted`, for the service to
  announce), and a redelivery is answered with that instead of flying again.

A file that cannot be read is set aside (renamed ``.bad``) with a warning naming it,
and the drone starts with an empty memory: a lost memory must not stop it answering.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from drone_patrol.alerts.eyes_on import CommandState, Reason
from drone_patrol.core.errors import DronePatrolError, InputError
from drone_patrol.core.files import AtomicText, read_user_json
from drone_patrol.service.eyes_on_rules import CommandLedger

log = logging.getLogger(__name__)

S = CommandState
FORMAT = "dronepatrol.commands/1"
#: the steps that lead to each final state, replayed through the ledger's own checks on loading
_PATHS: dict[CommandState, tuple[CommandState, ...]] = {
    S.REFUSED: (S.REFUSED,),
    S.FAILED: (S.ACCEPTED, S.FAILED),
    S.RELEASED: (S.ACCEPTED, S.RELEASED),
    S.COMPLETED: (S.ACCEPTED, S.EN_ROUTE, S.ON_STATION, S.COMPLETED),
}
_INTERRUPTED = "the patrol service restarted while the command was in progress"


def ledger_path(data_dir: Path, drone: str) -> Path:
    """Where the answered commands of ``drone`` are kept."""
    return Path(data_dir) / "commands" / f"{drone}.json"


class PersistentLedger(CommandLedger):
    """A :class:`CommandLedger` whose answered command ids survive a restart; see the module docstring."""

    def __init__(self, path: Path, site: str, drone: str, prefix: str = "dronepatrol", remember: int = 1000) -> None:
        super().__init__(site, drone, prefix, remember)
        self.path = Path(path)
        self._kept: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._loading = False
        #: commands found in progress on loading, now failed: ``(command_id, reason)``
        self.interrupted: list[tuple[str, Reason]] = []
        self._load()

    def record(self, command_id: str, state: CommandState, reason: Reason | None = None) -> None:
        """Note a step (as :meth:`CommandLedger.record`) and write it to disk before it is answered."""
        super().record(command_id, state, reason)
        if self._loading:
            return
        self._keep(command_id, state, reason, time.time())
        self._save()

    def _keep(self, command_id: str, state: CommandState, reason: Reason | None, time_s: float) -> None:
        why = {"code": reason.code, "text": reason.text} if reason else None
        entry = {"id": command_id, "state": state.value, "reason": why, "time_s": round(time_s, 3)}
        self._kept[command_id] = entry
        self._kept.move_to_end(command_id)
        while len(self._kept) > self.remember:
            self._kept.popitem(last=False)

    def _save(self) -> None:
        doc = {"format": FORMAT, "site": self.site, "drone": self.drone, "commands": list(self._kept.values())}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            out = AtomicText(self.path, "answered commands")
        except (OSError, DronePatrolError) as exc:
            log.error("commands: cannot keep command ids in %s (%s); a redelivery may run again", self.path, exc)
            return
        try:
            json.dump(doc, out.file, separators=(",", ":"))
            out.file.flush()
            out.commit()
        except OSError as exc:
            out.discard()
            log.error("commands: cannot write %s (%s); a redelivery may run again", self.path, exc)

    def _load(self) -> None:
        if not self.path.exists():
            return
        try:
            entries = _entries(read_user_json(self.path, "answered commands", InputError), self.path)
        except DronePatrolError as exc:
            bad = self.path.with_name(self.path.name + ".bad")
            with contextlib.suppress(OSError):
                self.path.replace(bad)
            log.warning("commands: %s; set aside as %s, starting with no answered commands", exc, bad.name)
            return
        self._loading = True
        try:
            for cid, state, reason, time_s in entries[-self.remember :]:
                if not state.final:
                    state, reason = S.FAILED, Reason("interrupted", _INTERRUPTED)
                    self.interrupted.append((cid, reason))
                for step in _PATHS[state]:
                    super().record(cid, step, reason if step is state else None)
                self._keep(cid, state, reason, time_s)
        finally:
            self._loading = False
        if self.interrupted:
            self._save()
        log.info("commands: %d answered command id(s) from %s", len(self._kept), self.path)


def _entries(doc: Any, path: Path) -> list[tuple[str, CommandState, Reason | None, float]]:
    """The commands of a ledger file, oldest first; :class:`DronePatrolError` naming what is wrong."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("commands"), list):
        raise InputError(f"{path}: expected a {FORMAT} document with a commands list")
    out = []
    for n, item in enumerate(doc["commands"]):
        try:
            reason = item["reason"]
            out.append(
                (
                    str(item["id"]),
                    CommandState(item["state"]),
                    Reason(str(reason["code"]), str(reason["text"])) if reason is not None else None,
                    float(item["time_s"]),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{path}: commands[{n}]: expected id, state, reason and time_s ({exc})") from None
    return out
