-- The restore journal: per device, what a command changed (boot options,
-- redirection state) and the values to put back, written before the change
-- is sent and removed once everything is restored. Nothing here is secret.

-- +goose Up
CREATE TABLE amtkit_restore (
    host       TEXT PRIMARY KEY,
    reason     TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    record     TEXT NOT NULL
);

-- +goose Down
DROP TABLE amtkit_restore;
