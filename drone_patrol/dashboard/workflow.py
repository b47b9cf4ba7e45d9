"""The dispatch of an incident: its steps, which step may follow which, and the times they give.

Pure code: no I/O. An incident goes ``new`` -> ``acknowledged`` (the ack event) ->
``dispatched`` (a unit or officer, free text) -> ``on_scene`` -> ``resolved``, or is
closed as ``false_alarm`` or ``duplicate`` (with a reason) from any open state; a
``note`` may be added at any time. A second ``dispatched`` while the first unit is
on its way or on scene sends reinforcements (the state does not go back).

The response times of an incident count from its first alert message:
alert -> acknowledged, -> dispatched, -> on scene, -> closed (each the first such step).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drone_patrol.alerts import schema
from drone_patrol.core.errors import AlertsError, InputError
from drone_patrol.dashboard.model import TOPIC_ROOT, MessageError, Topic, command_room_event

#: The states of an incident, in the order the dispatch goes through them.
STATES = ("new", "acknowledged", "dispatched", "on_scene", "resolved", "false_alarm", "duplicate")
CLOSING_STEPS = frozenset({"resolved", "false_alarm", "duplicate"})
STEPS = schema.WORKFLOW_STEPS
_RANK = {state: i for i, state in enumerate(STATES)}


class WorkflowError(InputError):
    """A step that is not well formed (unknown step, no unit, no reason); the text says why."""


class WorkflowConflictError(WorkflowError):
    """A step that cannot follow the incident's state (closed, nobody sent yet)."""


@dataclass(frozen=True, slots=True)
class WorkflowStep:
    """One dispatch step of an incident and who took it, when."""

    step_id: str
    incident_id: str
    step: str
    by: str
    time_s: float
    site: str
    drone: str
    unit: str = ""
    reason: str = ""
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        """JSON-ready view (the archive's row)."""
        return {
            "step_id": self.step_id,
            "incident_id": self.incident_id,
            "step": self.step,
            "by": self.by,
            "time_s": self.time_s,
            "site": self.site,
            "drone": self.drone,
            "unit": self.unit,
            "reason": self.reason,
            "note": self.note,
        }


def check_step(state: str, step: str, *, unit: str = "", reason: str = "", note: str = "") -> None:
    """Raise :class:`WorkflowError` when ``step`` cannot be taken on an incident in ``state``.

    The dashboard takes a step on a ``new`` incident by acknowledging it first, so
    ``new`` is treated as acknowledged here.
    """
    if step not in STEPS:
        raise WorkflowError(f"step {step!r}: expected one of {', '.join(STEPS)}")
    if step == "dispatched" and not unit.strip():
        raise WorkflowError("dispatched: say which unit or officer was sent (unit)")
    if step in ("false_alarm", "duplicate") and not reason.strip():
        raise WorkflowError(f"{step}: a reason is required")
    if step == "note":
        if not note.strip():
            raise WorkflowError("note: the note is empty")
        return
    if state in CLOSING_STEPS:
        raise WorkflowConflictError(f"{step}: the incident is already closed ({state}); only a note can be added")
    if step == "on_scene" and state not in ("dispatched", "on_scene"):
        raise WorkflowConflictError("on_scene: no unit has been dispatched yet")


def fold_workflow(row: dict[str, Any], steps: list[dict[str, Any]], acks: list[dict[str, Any]]) -> None:
    """Add the dispatch state of one incident to its ``row`` (steps and acks are archive dicts, any order).

    Adds ``state``, ``units`` (dispatched, in order), ``outcome_reason``, the first
    time of each stage (``acknowledged_at_s``, ``dispatched_at_s``, ``on_scene_at_s``,
    ``closed_at_s``) and ``history``: acks and steps, oldest first, each with ``step``.
    """
    history = [
        {"step": "acknowledged", "step_id": a["ack_id"], "by": a["by"], "time_s": a["time_s"], "note": a["note"]}
        for a in acks
    ]
    history += [dict(s) for s in steps]
    history.sort(key=lambda h: h["time_s"])
    state = "new"
    firsts: dict[str, float] = {}
    units: list[str] = []
    reason = ""
    for h in history:
        step = h["step"]
        if step == "note":
            continue
        firsts.setdefault("closed" if step in CLOSING_STEPS else step, h["time_s"])
        if step == "dispatched":
            units.append(h.get("unit", ""))
        if state in CLOSING_STEPS:
            continue  # the first close stands
        if step in CLOSING_STEPS:
            reason = h.get("reason", "")
        if _RANK[step] > _RANK[state]:
            state = step
    row.update(
        state=state,
        units=units,
        outcome_reason=reason,
        acknowledged_at_s=firsts.get("acknowledged"),
        dispatched_at_s=firsts.get("dispatched"),
        on_scene_at_s=firsts.get("on_scene"),
        closed_at_s=firsts.get("closed"),
        history=history,
    )


def response_times(row: dict[str, Any]) -> dict[str, float | None]:
    """Seconds from the incident's first alert to its first ack, dispatch, arrival and close (``None``: not yet)."""
    start = row["first_time_s"]
    out: dict[str, float | None] = {}
    for name in ("acknowledged", "dispatched", "on_scene", "closed"):
        t = row.get(f"{name}_at_s")
        out[f"to_{name}_s"] = None if t is None else max(0.0, t - start)
    return out


def workflow_payload(step: WorkflowStep, prefix: str = TOPIC_ROOT) -> dict[str, Any]:
    """The event to publish on ``.../alerts/workflow`` (the shared schema's); its id is ``step.step_id``."""
    try:
        event = schema.workflow_event(
            step.incident_id,
            step.step,
            by=step.by,
            site=step.site,
            drone=step.drone,
            time_s=step.time_s,
            unit=step.unit,
            reason=step.reason,
            note=step.note,
            prefix=prefix,
        )
    except AlertsError as exc:
        raise WorkflowError(str(exc)) from None
    event["id"] = step.step_id
    return event


def parse_workflow(topic: Topic, topic_text: str, payload: bytes) -> WorkflowStep:
    """Parse a workflow step event published on ``.../alerts/workflow``."""
    event, time_s = command_room_event(topic_text, payload, schema.WORKFLOW_DATASCHEMA, "a workflow step")
    data = schema.WorkflowData.model_validate(event.data)
    if (data.site, data.drone) != (topic.site, topic.drone):
        raise MessageError(f"{topic_text}: step {event.id} is about {data.site}/{data.drone}, not the topic's drone")
    return WorkflowStep(
        step_id=event.id,
        incident_id=data.incident_id,
        step=data.step,
        by=data.by,
        time_s=time_s,
        site=data.site,
        drone=data.drone,
        unit=data.unit,
        reason=data.reason,
        note=data.note,
    )
