"""Versioned schema migrations of the PostgreSQL city archive, applied in order by ``pg_archive.migrate``.

Each file is ``NNNN_name.sql``, run once in its own transaction and recorded in
``schema_migrations``. A change to the schema is a new file, never an edit of an applied
one. ``0001_alerts.sql`` holds the alert messages and acknowledgements;
``0002_incident_workflow.sql`` the incident dispatch steps (each with time, who, unit,
reason and note) and the drones' last known positions, mirroring the SQLite archive's
tables. The response figures are folded from these rows, not stored. The migrated schema and
the SQLite archive's are checked to hold the same tables, columns and indexes
(``tests/city/test_pg_archive.py``): a new migration goes with the same change to the SQLite schema.
"""
