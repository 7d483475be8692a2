-- amtkit state database, SQLite. Times are microseconds since the Unix epoch
-- (UTC); the same tables and columns exist in the Postgres migrations.

-- +goose Up
CREATE TABLE amtkit_meta (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

CREATE TABLE amtkit_profile (
    name       TEXT PRIMARY KEY,
    is_default INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
    sealed     BLOB NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX amtkit_profile_one_default ON amtkit_profile (is_default) WHERE is_default = 1;

CREATE TABLE amtkit_runtime (
    device     TEXT PRIMARY KEY,
    technology TEXT NOT NULL,
    profile    TEXT NOT NULL,
    origin     INTEGER NOT NULL,
    learned_at BIGINT NOT NULL,
    stale_at   BIGINT,
    sealed     BLOB NOT NULL
);

CREATE TABLE amtkit_activity (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    at               BIGINT NOT NULL,
    actor            TEXT NOT NULL,
    host             TEXT NOT NULL,
    operation        TEXT NOT NULL,
    params           TEXT NOT NULL,
    technology       TEXT NOT NULL,
    profile          TEXT NOT NULL,
    outcome          TEXT NOT NULL,
    return_code      BIGINT,
    return_code_name TEXT NOT NULL,
    auth_step        TEXT NOT NULL,
    job              TEXT NOT NULL,
    duration_us      BIGINT NOT NULL,
    message          TEXT NOT NULL
);
CREATE INDEX amtkit_activity_at ON amtkit_activity (at);
CREATE INDEX amtkit_activity_host_at ON amtkit_activity (host, at);

-- +goose Down
DROP TABLE amtkit_activity;
DROP TABLE amtkit_runtime;
DROP TABLE amtkit_profile;
DROP TABLE amtkit_meta;
