-- Requests per API key per fixed one-minute window, counted in the database so that every
-- instance sees the same count: the per-key limit holds however many instances serve.
-- Windows older than a few minutes are deleted by the hourly retention task.
CREATE TABLE rate_windows (
    user_id BIGINT NOT NULL REFERENCES users (id),
    window_start_ms BIGINT NOT NULL,
    requests BIGINT NOT NULL,
    PRIMARY KEY (user_id, window_start_ms)
);
CREATE INDEX rate_windows_by_start ON rate_windows (window_start_ms);
