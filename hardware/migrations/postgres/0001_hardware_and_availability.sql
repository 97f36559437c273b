-- The PostgreSQL twin of sqlite/0001: same tables, same columns, same version number.
CREATE TABLE hardware (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider TEXT NOT NULL,
    name TEXT NOT NULL
);

-- The last computed availability per profile, so a restarted or replaced instance serves at
-- once, and every instance starts from the same values.
CREATE TABLE availability (
    hardware_id BIGINT PRIMARY KEY,
    availability TEXT NOT NULL,
    computed_at_ms BIGINT NOT NULL
);
