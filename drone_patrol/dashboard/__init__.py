"""The command-room dashboard: a live map of drones and alerts, and the dispatch of each incident, in a browser.

Public surface:

- :class:`drone_patrol.dashboard.app.Dashboard` (``Dashboard.from_settings(settings, **overrides)``,
  ``start()``, ``stop()``, ``url``, ``serve_forever()``; a context manager) and
  :class:`~drone_patrol.dashboard.app.DashboardOptions`.
- ``drone-patrol dashboard`` (:mod:`drone_patrol.dashboard.commands`).

Inside: :mod:`.bridge` (MQTT, through :mod:`drone_patrol.alerts.connection`), :mod:`.model`
(parsing, through :mod:`drone_patrol.alerts.schema`), :mod:`.archive` (SQLite) and :mod:`.pg_archive`
(PostgreSQL, the city archive), both behind the :class:`~.archive_store.ArchiveStore` interface,
:mod:`.incidents` (incidents folded from their rows),
:mod:`.state` (drones, event fan-out), :mod:`.core` (messages in, page events, acks, steps and
commands out; commands to drones and their results through :mod:`drone_patrol.alerts.eyes_on`),
:mod:`.workflow` (dispatch steps, pure), :mod:`.report` (response figures and the shift report,
pure), :mod:`.tiles` and :mod:`.pmtiles_archive` (offline MBTiles or PMTiles base map),
:mod:`.server` and :mod:`.ops_api` (HTTP, REST API, server-sent events), :mod:`.geodata` (areas and
routes), :mod:`.auth` (staff sign-in),
``static/`` (the page as ES modules in ``static/js/``, translations in ``static/i18n/``; Leaflet
and Leaflet.markercluster vendored under ``static/vendor``).
"""
