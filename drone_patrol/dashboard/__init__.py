"""The command-room dashboard: a web page with a live map of drones and alerts, acknowledged from the browser.

Public surface:

- :class:`drone_patrol.dashboard.app.Dashboard` (``Dashboard.from_settings(settings, **overrides)``,
  ``start()``, ``stop()``, ``url``, ``serve_forever()``; a context manager) and
  :class:`~drone_patrol.dashboard.app.DashboardOptions`.
- ``drone-patrol dashboard`` (:mod:`drone_patrol.dashboard.commands`).

Inside: :mod:`.bridge` (MQTT, through :mod:`drone_patrol.alerts.connection`), :mod:`.model`
(parsing, through :mod:`drone_patrol.alerts.schema`), :mod:`.archive` (SQLite),
:mod:`.state` (drones, event fan-out), :mod:`.core` (messages in, page events and acks out),
:mod:`.server` (HTTP, REST API, server-sent events), :mod:`.geodata` (areas and routes),
:mod:`.auth` (staff sign-in), ``static/`` (the page; Leaflet vendored under ``static/vendor``).
"""
