"""Incidents folded from the archive's rows: alert messages, acknowledgements and dispatch steps.

Pure code shared by every archive behind :class:`~drone_patrol.dashboard.archive_store.ArchiveStore`:
a store returns plain rows (dicts, times in UNIX seconds) and :func:`fold_incidents` makes the
incidents the page and the API show.
"""

from __future__ import annotations

from typing import Any

from drone_patrol.dashboard.model import SEVERITY_RANK
from drone_patrol.dashboard.workflow import fold_workflow


def fold_incidents(
    messages: list[dict[str, Any]], acks: list[dict[str, Any]], steps: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Fold messages (oldest first), acks and dispatch steps into one row per incident, newest first.

    A row carries the latest message's fields, the first time seen, the number of
    messages, the highest severity, the id of the latest message with a thumbnail,
    and the acknowledgement. An ack targets one message (its event id) or the whole
    incident (its incident id). The incident stays acknowledged unless a later
    message raises its severity above what was acknowledged: the targeted
    message's severity, or for an incident ack the highest severity received
    before the ack. The dispatch state, its history and the first time of each
    stage come from :func:`~drone_patrol.dashboard.workflow.fold_workflow`.
    """
    by_incident: dict[str, dict[str, Any]] = {}
    incident_of: dict[str, str] = {}
    history: dict[str, list[dict[str, Any]]] = {}
    for m in messages:
        incident_of[m["id"]] = m["incident_id"]
        history.setdefault(m["incident_id"], []).append(m)
        row = by_incident.get(m["incident_id"])
        if row is None:
            row = by_incident[m["incident_id"]] = {"first_time_s": m["time_s"], "updates": 0, "thumbnail_id": None}
            row["max_severity"] = m["severity"]
        row["updates"] += 1
        if SEVERITY_RANK[m["severity"]] > SEVERITY_RANK[row["max_severity"]]:
            row["max_severity"] = m["severity"]
        if m["has_thumbnail"]:
            row["thumbnail_id"] = m["id"]
        row.update({k: v for k, v in m.items() if k not in ("has_thumbnail", "received_s", "id")})
        row["event_id"] = m["id"]
        row.update(acked=False, acked_by=None, acked_at_s=None)
    acks_of: dict[str, list[dict[str, Any]]] = {}
    for a in acks:
        target = a["target_id"]
        incident = incident_of.get(target, target)
        row = by_incident.get(incident)
        if row is None:
            continue
        acks_of.setdefault(incident, []).append(a)
        if target in incident_of and target != incident:
            acked_rank = max(SEVERITY_RANK[m["severity"]] for m in history[incident] if m["id"] == target)
        else:
            before = [SEVERITY_RANK[m["severity"]] for m in history[incident] if m["received_s"] <= a["received_s"]]
            acked_rank = max(before, default=SEVERITY_RANK[row["severity"]])
        if SEVERITY_RANK[row["severity"]] <= acked_rank:
            row.update(acked=True, acked_by=a["by"], acked_at_s=a["time_s"])
    steps_of: dict[str, list[dict[str, Any]]] = {}
    for st in steps or ():
        steps_of.setdefault(st["incident_id"], []).append(st)
    for incident, row in by_incident.items():
        fold_workflow(row, steps_of.get(incident, []), acks_of.get(incident, []))
    rows = list(by_incident.values())
    rows.sort(key=lambda r: r["time_s"], reverse=True)
    return rows
