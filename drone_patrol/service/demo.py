"""``drone-patrol demo``: the whole system on embedded defaults, on one machine.

Embedded broker, simulated ArduCopter (or SITL, or any vehicle), simulated thermal camera
over a shipped scenario; plan the sample district, fly it faster than real time, print each
alert as the command-room subscriber receives it, and end with a summary and an HTML report.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drone_patrol.alerts.schema import alert_from_event
from drone_patrol.alerts.subscriber import AlertSubscriber
from drone_patrol.core.config import Settings
from drone_patrol.core.geo import distance_m
from drone_patrol.core.resources import shipped_file
from drone_patrol.core.types import Alert, AlertKind, AlertStatus, GeoPoint
from drone_patrol.dashboard.app import Dashboard
from drone_patrol.service.feeds import SimCameraFeed
from drone_patrol.service.patrol import PatrolOutcome
from drone_patrol.service.report import PatrolReportData, TruthMarker, write_report
from drone_patrol.service.session import PatrolSession, SessionResult, VehicleSource

log = logging.getLogger(__name__)

_TRUTH_KIND = {"fire": AlertKind.THERMAL_HOTSPOT, "crowd": AlertKind.CROWD_GATHERING}


@dataclass
class IncidentMatch:
    """One scenario incident and the nearest received alert of its kind."""

    name: str
    kind: str
    seen: bool
    alert_incident_id: str | None
    error_m: float | None
    first_seen_to_alert_s: float | None  # wall: first frame in view -> first alert received by the command room
    confirm_vehicle_s: float | None = None  # vehicle time: first frame in view -> first alert raised on board
    transit_s: float | None = None  # wall: alert raised on board -> received by the command room
    most_in_view: int | None = None  # crowds: the most of its people the camera had in view at once


@dataclass
class DemoResult:
    """What the demo measured."""

    session: SessionResult
    received: list[dict[str, Any]] = field(default_factory=list)
    matches: list[IncidentMatch] = field(default_factory=list)
    false_alerts: list[str] = field(default_factory=list)
    report_path: Path | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    landed_home_m: float | None = None
    disarmed: bool = False
    truth: list[tuple[str, str, GeoPoint]] = field(default_factory=list)
    survey_sorties: int = 0


class CommandRoom:
    """The demo's command-room watcher: a real MQTT subscriber that prints and keeps what arrives."""

    def __init__(self, broker_url: str, site: str, echo: Callable[[str], None]) -> None:
        self.echo = echo
        self.received: list[dict[str, Any]] = []
        self.received_wall_s: dict[str, float] = {}
        self._lock = threading.Lock()
        # a persistent session: alerts the broker takes while this watcher is reconnecting are kept for it
        client_id = f"dronepatrol-room-{uuid.uuid4().hex[:12]}"
        self.sub = AlertSubscriber(broker_url, site=site, on_alert=self._on_alert, client_id=client_id, persistent=True)

    def _on_alert(self, envelope: dict[str, Any]) -> None:
        with self._lock:
            self.received.append(envelope)
            self.received_wall_s[envelope["id"]] = time.time()
        data = envelope.get("data", {})
        pos = data.get("location") or {}
        where = f"{pos.get('latitude_deg', 0):.6f},{pos.get('longitude_deg', 0):.6f}" if pos else "-"
        self.echo(
            f"  command room <- {data.get('kind', '?'):15} {data.get('status', ''):6} {data.get('severity', ''):8} "
            f"{where} area={data.get('area') or '-'} {data.get('summary', '')}"
        )

    def ids(self) -> set[str]:
        """Event ids received so far."""
        with self._lock:
            return {e["id"] for e in self.received}


def _received_alerts(received: list[dict[str, Any]]) -> list[Alert]:
    out = []
    for env in received:
        try:
            out.append(alert_from_event(env))
        except Exception:
            log.warning("could not read back alert %s", env.get("id"))
    return out


def evaluate(
    session: PatrolSession, alerts: list[Alert], room: CommandRoom, outcomes: list[PatrolOutcome] | None = None
) -> tuple[list[IncidentMatch], list[str]]:
    """Match each scenario fire and crowd with the received alerts; list alerts matching nothing."""
    feed = session.feed
    if not isinstance(feed, SimCameraFeed):
        return [], []
    matches: list[IncidentMatch] = []
    used: set[str] = set()
    for name, kind, pos in feed.incidents(session.settings.vision.crowd_min_people):
        want = _TRUTH_KIND[kind]
        candidates = [a for a in alerts if a.kind == want and a.location is not None]
        best = min(candidates, key=lambda a: distance_m(a.location, pos), default=None)  # type: ignore[arg-type]
        seen = feed.seen.get(name)
        if best is None or best.location is None or distance_m(best.location, pos) > 15.0:
            matches.append(IncidentMatch(name, kind, seen is not None, None, None, None))
            continue
        used.add(best.incident_id)
        firsts = [a for a in alerts if a.incident_id == best.incident_id and a.status == AlertStatus.NEW]
        delay = confirm = transit = None
        if seen is not None and firsts:
            # first frame with the incident in view -> the first alert's arrival in the command room (wall time)
            arrived = room.received_wall_s.get(firsts[0].alert_id)
            if arrived is not None:
                delay = arrived - seen.first_seen_wall_s
            for o in outcomes or []:
                raised_v = o.datapath.first_alert_vehicle_s.get(best.incident_id)
                raised_w = o.datapath.first_alert_wall_s.get(best.incident_id)
                if raised_v is not None and raised_w is not None:
                    confirm = raised_v - seen.first_seen_s
                    transit = arrived - raised_w if arrived is not None else None
        matches.append(IncidentMatch(name, kind, seen is not None, best.incident_id,
                                     distance_m(best.location, pos), delay, confirm, transit,
                                     seen.max_count_in_view if seen is not None else None))  # fmt: skip
    false = sorted({a.incident_id for a in alerts if a.kind != AlertKind.VEHICLE and a.incident_id not in used})
    return matches, false


QUIET_NIGHT = shipped_file("flight_plans/scenarios/quiet_night.geojson")


def run_demo(
    settings: Settings,
    source: VehicleSource | None = None,
    out_dir: Path | None = None,
    echo: Callable[[str], None] = print,
    learn_scenario: Path | None = QUIET_NIGHT,
    dashboard_port: int | None = None,
    before_close: Callable[[DemoResult], None] | None = None,
) -> DemoResult:
    """Run the demo end to end and return what it measured (the report path among it).

    When the site has no heat baseline yet and ``learn_scenario`` exists, a first patrol
    over that ordinary night teaches it the heat that is there every night (grills, a
    food cart, warm engines), as earlier patrols of a real site would.

    With ``dashboard_port`` the command-room dashboard is served on it during the demo;
    ``before_close`` runs once the demo is done, before the broker and the dashboard stop.
    """
    started = time.monotonic()
    out = Path(out_dir or settings.service.report_dir)
    with PatrolSession(settings, source, out) as session:
        plan, missions, files = session.plan()
        if plan is not None:
            for i, st in enumerate(plan.stats, 1):
                echo(f"plan: sortie {i}: {st.waypoints} items, {st.length_m:.0f} m, ~{st.duration_s / 60:.1f} min")
        session.start_broker()
        if dashboard_port is not None:
            routes = tuple(Path(p) for p in files.get("plan", []))
            dash = Dashboard.from_settings(
                settings, broker_url=session.broker_url, port=dashboard_port, route_files=routes,
                archive_path=out / "dashboard.sqlite",
            )  # fmt: skip
            dash.start()
            session.on_close(dash.stop)
            echo(f"dashboard: {dash.url}")
        room = CommandRoom(session.broker_url, settings.site.id, echo)
        room.sub.start(wait_s=10.0)
        echo(f"command room subscribed on {session.broker_url}")
        session.start_publisher()
        vehicle = session.start_vehicle()
        echo(f"vehicle connected ({'simulator' if session.source.simulated else 'external'}, x{session.speedup:g})")
        result = SessionResult(plan, missions, files=files, broker_url=session.broker_url)
        survey_ids: set[str] = set()
        n_survey = 0
        if learn_scenario is not None and learn_scenario.is_file() and not session.baseline_path().exists():
            site = settings.site.id
            echo(f"no heat baseline for site {site} yet: a first patrol over {learn_scenario.name} learns it")
            session.start_camera(learn_scenario)
            for mission in missions:
                learned = session.fly(mission, survey=True)
                result.outcomes.append(learned)
                survey_ids |= {a.alert_id for a in learned.alerts}
                n_survey += 1
            echo(f"heat baseline saved to {session.baseline_path()}")
        session.start_camera()
        for i, mission in enumerate(missions, 1):
            if session.stopping:
                break
            echo(f"flying sortie {i}/{len(missions)} ({len(mission.items)} items)")
            for outcome in session.fly_to_end(mission):
                result.outcomes.append(outcome)
                rep = outcome.report
                if rep is not None:
                    echo(f"sortie {i}: {rep.outcome}; {rep.distance_flown_m:.0f} m flown, "
                         f"landed {rep.landed_distance_from_home_m or 0:.1f} m from home")  # fmt: skip
        assert session.publisher is not None
        session.publisher.flush(timeout_s=10.0)
        published = {a.alert_id for o in result.outcomes for a in o.alerts}
        deadline = time.monotonic() + 10.0
        while not published <= room.ids() and time.monotonic() < deadline:
            time.sleep(0.1)
        state = vehicle.state
        demo = DemoResult(result, list(room.received), survey_sorties=n_survey)
        alerts = [a for a in _received_alerts(room.received) if a.alert_id not in survey_ids]
        main = result.outcomes[n_survey:]
        demo.matches, demo.false_alerts = evaluate(session, alerts, room, main)
        last = result.outcomes[-1].report if result.outcomes else None
        demo.landed_home_m = last.landed_distance_from_home_m if last else None
        demo.disarmed = not state.armed
        room.sub.stop()
        demo.summary = _summary(demo, published, time.monotonic() - started)
        track = [p for o in result.outcomes for p in o.track]
        feed = session.feed
        demo.truth = feed.incidents(settings.vision.crowd_min_people) if isinstance(feed, SimCameraFeed) else []
        truth = [TruthMarker(n, k, p) for n, k, p in demo.truth]
        data = PatrolReportData(
            f"Night patrol demo: {settings.site.id}", session.home, session.areas.all, missions, track,
            alerts, truth, demo.summary,
        )  # fmt: skip
        demo.report_path = write_report(data, out / "demo_report.html")
        if before_close is not None:
            before_close(demo)
    return demo


def _summary(demo: DemoResult, published: set[str], wall_s: float) -> dict[str, Any]:
    outcomes = demo.session.outcomes
    reports = [o.report for o in outcomes if o.report is not None]
    received_ids = {e["id"] for e in demo.received}
    found = [m for m in demo.matches if m.alert_incident_id]
    delays = [m.first_seen_to_alert_s for m in found if m.first_seen_to_alert_s is not None]
    errors = [m.error_m for m in found if m.error_m is not None]
    stats = [o.datapath for o in outcomes]
    return {
        "survey sorties (learning the baseline)": demo.survey_sorties,
        "patrol sorties flown": len(outcomes) - demo.survey_sorties,
        "outcome": ", ".join(r.outcome for r in reports) or "-",
        "distance flown (m)": round(sum(r.distance_flown_m for r in reports), 1),
        "landed from home (m)": demo.landed_home_m if demo.landed_home_m is not None else "-",
        "disarmed at the end": demo.disarmed,
        "alerts published": len(published),
        "alerts received by the command room": len(received_ids),
        "alerts lost": len(published - received_ids),
        "incidents in the scenario": len(demo.matches),
        "incidents alerted": f"{len(found)}/{len(demo.matches)}",
        "alerts matching no incident": len(demo.false_alerts),
        "max localisation error (m)": round(max(errors), 2) if errors else "-",
        "max first sighting to alert (s, wall)": round(max(delays), 2) if delays else "-",
        "frames processed": sum(s.frames_processed for s in stats),
        "frames dropped (vision behind)": sum(s.frames_dropped for s in stats),
        "vision fps": round(max((s.fps for s in stats), default=0.0), 1),
        "wall time (s)": round(wall_s, 1),
    }
