-- The legacy schema, kept as is so an existing database.db can be pointed at directly.
CREATE TABLE IF NOT EXISTS hardware (
    id INTEGER PRIMARY KEY,
    provider TEXT NOT NULL,
    name TEXT NOT NULL
);

-- The last computed availability per profile, so a restarted service serves at once.
CREATE TABLE IF NOT EXISTS availability (
    hardware_id INTEGER PRIMARY KEY,
    availability TEXT NOT NULL,
    computed_at_ms BIGINT NOT NULL
);
