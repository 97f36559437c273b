-- The PostgreSQL twin of sqlite/0001: same tables and columns, same version number.
-- API users. Only a SHA-256 of each key is stored: keys are 256-bit random values, so a fast
-- hash is safe (no dictionary to attack) and lets a request be authenticated by one lookup.
CREATE TABLE users (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    key_hash TEXT NOT NULL UNIQUE,
    created_at_ms BIGINT NOT NULL,
    revoked_at_ms BIGINT
);

-- One row per authenticated solve request, shown to its owner by GET /v2/history.
CREATE TABLE history (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    at_ms BIGINT NOT NULL,
    api TEXT NOT NULL,
    request_id TEXT NOT NULL,
    colors BIGINT NOT NULL,
    customers BIGINT NOT NULL,
    pairs BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    mattes BIGINT,
    duration_us BIGINT NOT NULL
);
CREATE INDEX history_by_user ON history (user_id, id);
