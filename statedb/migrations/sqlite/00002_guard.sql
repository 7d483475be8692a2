-- The lockout guard's records of logins per device. Nothing here is secret:
-- the candidate is a keyed hash (HMAC-SHA256 under a key derived from the
-- key file), never the password.

-- +goose Up
CREATE TABLE amtkit_guard (
    id        TEXT PRIMARY KEY,
    device    TEXT NOT NULL,
    candidate BLOB NOT NULL,
    at        BIGINT NOT NULL,
    until_at  BIGINT NOT NULL,
    pending   INTEGER NOT NULL CHECK (pending IN (0, 1)),
    port      INTEGER NOT NULL
);
CREATE INDEX amtkit_guard_device ON amtkit_guard (device, until_at);

-- +goose Down
DROP TABLE amtkit_guard;
