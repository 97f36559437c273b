-- Retention deletes by age every hour; without this index each pass scans the whole table.
CREATE INDEX history_by_time ON history (at_ms);
