-- The incident dispatch workflow and the drones' last known positions: the same
-- rows as the SQLite archive's ``workflow`` and ``drones`` tables
-- (drone_patrol/dashboard/archive.py). Each dispatch step (acknowledged is the ack
-- of 0001; dispatched, on scene, resolved, false alarm, duplicate, note) is kept
-- under its CloudEvent id with who did it, when and why; the response figures and
-- the shift report are folded from these rows, not stored.
CREATE TABLE workflow (
    step_id TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL,
    step TEXT NOT NULL,
    by TEXT NOT NULL,
    time_s DOUBLE PRECISION NOT NULL,
    site TEXT NOT NULL,
    drone TEXT NOT NULL,
    unit TEXT NOT NULL,
    reason TEXT NOT NULL,
    note TEXT NOT NULL,
    received_s DOUBLE PRECISION NOT NULL
);
CREATE INDEX workflow_incident ON workflow (incident_id);

-- One row per drone, replaced by each position, so a dashboard that restarts
-- (or one that starts later in the city room) shows every drone where it was last seen.
CREATE TABLE drones (
    site TEXT NOT NULL,
    drone TEXT NOT NULL,
    latitude_deg DOUBLE PRECISION NOT NULL,
    longitude_deg DOUBLE PRECISION NOT NULL,
    time_s DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (site, drone)
);
