-- The city archive of alert messages and acknowledgements: the same rows as the
-- dashboard's SQLite archive (drone_patrol/dashboard/archive.py). A message's
-- CloudEvent id is its key, so a QoS 1 redelivery, or the same alert received by
-- several dashboards, is stored once.
CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL,
    site TEXT NOT NULL,
    drone TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    severity TEXT NOT NULL,
    time_s DOUBLE PRECISION NOT NULL,
    received_s DOUBLE PRECISION NOT NULL,
    latitude_deg DOUBLE PRECISION,
    longitude_deg DOUBLE PRECISION,
    error_radius_m DOUBLE PRECISION,
    first_seen_s DOUBLE PRECISION,
    last_seen_s DOUBLE PRECISION,
    confidence DOUBLE PRECISION,
    area TEXT,
    summary TEXT NOT NULL,
    figures JSONB NOT NULL,
    thumbnail BYTEA,
    raw JSONB NOT NULL
);
CREATE INDEX messages_time ON messages (time_s);
CREATE INDEX messages_incident ON messages (incident_id);
CREATE INDEX messages_site_time ON messages (site, time_s);

CREATE TABLE acks (
    ack_id TEXT PRIMARY KEY,
    target_id TEXT NOT NULL,
    by TEXT NOT NULL,
    time_s DOUBLE PRECISION NOT NULL,
    site TEXT NOT NULL,
    drone TEXT NOT NULL,
    note TEXT NOT NULL,
    received_s DOUBLE PRECISION NOT NULL
);
CREATE INDEX acks_target ON acks (target_id);
