-- Durable fleet jobs (package amt/fleet/durable). A job is one task over many
-- machines; its machines are cut into chunks, each carried by one River job
-- (river_job, written in the same transaction). A machine's row holds its
-- outcome once it has one, and its marker (marked_at) from the moment a
-- change is about to be sent: a marker without an outcome after a crash is
-- reported outcome_unknown and never sent again on its own. Nothing here is
-- secret: a credential profile is named, never sealed here.

-- +goose Up
CREATE TABLE amtkit_job (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at   BIGINT NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    task         TEXT NOT NULL,
    spec         TEXT NOT NULL,
    profile      TEXT NOT NULL,
    state        TEXT NOT NULL,
    start_at     BIGINT NOT NULL,
    expire_at    BIGINT,
    continued_at BIGINT,
    finished_at  BIGINT,
    total        INTEGER NOT NULL,
    done         INTEGER NOT NULL DEFAULT 0,
    result_seq   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX amtkit_job_state ON amtkit_job (state, finished_at);

CREATE TABLE amtkit_job_chunk (
    job         BIGINT NOT NULL REFERENCES amtkit_job (id) ON DELETE CASCADE,
    chunk       INTEGER NOT NULL,
    batch       INTEGER NOT NULL,
    river_id    BIGINT,
    worker      TEXT NOT NULL DEFAULT '',
    started_at  BIGINT,
    finished_at BIGINT,
    PRIMARY KEY (job, chunk)
);

CREATE TABLE amtkit_job_machine (
    job               BIGINT NOT NULL REFERENCES amtkit_job (id) ON DELETE CASCADE,
    seq               INTEGER NOT NULL,
    host              TEXT NOT NULL,
    chunk             INTEGER NOT NULL,
    outcome           TEXT,
    return_code       BIGINT,
    return_code_name  TEXT,
    attempts          INTEGER NOT NULL DEFAULT 0,
    retries_remaining INTEGER NOT NULL,
    last_attempt      BIGINT,
    worker            TEXT NOT NULL DEFAULT '',
    message           TEXT NOT NULL DEFAULT '',
    data              TEXT,
    marked_at         BIGINT,
    finished_at       BIGINT,
    done_seq          INTEGER,
    PRIMARY KEY (job, seq)
);
CREATE UNIQUE INDEX amtkit_job_machine_host ON amtkit_job_machine (job, host);
CREATE INDEX amtkit_job_machine_chunk ON amtkit_job_machine (job, chunk);
CREATE INDEX amtkit_job_machine_done ON amtkit_job_machine (job, done_seq);
CREATE INDEX amtkit_job_machine_outcome ON amtkit_job_machine (job, outcome);

-- Named collections of targets.
CREATE TABLE amtkit_collection (
    name       TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE amtkit_collection_target (
    collection TEXT NOT NULL REFERENCES amtkit_collection (name) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    target     TEXT NOT NULL,
    PRIMARY KEY (collection, target)
);

-- +goose Down
DROP TABLE amtkit_collection_target;
DROP TABLE amtkit_collection;
DROP TABLE amtkit_job_machine;
DROP TABLE amtkit_job_chunk;
DROP TABLE amtkit_job;
