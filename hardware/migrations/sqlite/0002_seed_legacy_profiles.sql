-- Seed the legacy rows once, and only into an empty table: a legacy database keeps its rows,
-- and profiles an operator deletes later are not brought back (migrations run once).
INSERT INTO hardware (provider, name)
SELECT provider, name FROM (
    SELECT 1 AS position, 'Amazon' AS provider, 'c5' AS name
    UNION ALL
    SELECT 2, 'Azure', 'H16mr'
) AS legacy_rows
WHERE NOT EXISTS (SELECT 1 FROM hardware)
ORDER BY position;
