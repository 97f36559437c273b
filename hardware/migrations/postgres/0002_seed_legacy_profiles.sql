-- The legacy rows, in the legacy order (a new PostgreSQL database has no legacy rows to keep).
INSERT INTO hardware (provider, name) VALUES ('Amazon', 'c5'), ('Azure', 'H16mr');
