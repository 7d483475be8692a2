-- Durable fleet jobs, continued. A job keeps how its workers connect to its
-- machines (JSON: TLS on or off, the CA certificates' PEM content, SHA-256
-- pins, legacy TLS, insecure-skip-verify, the redirection port; never a
-- secret), so that workers on other machines connect and verify the same
-- way. A machine's claimed_at is set, in the worker's group commit, when a
-- worker starts on it: with the machine's worker it says which worker holds
-- which machine now. A chunk's not_before is the earliest start of a chunk
-- a retry queued again (its new batch slot, counted from the retry).

-- +goose Up
ALTER TABLE amtkit_job ADD COLUMN connection TEXT NOT NULL DEFAULT '{}';
ALTER TABLE amtkit_job_machine ADD COLUMN claimed_at BIGINT;
ALTER TABLE amtkit_job_chunk ADD COLUMN not_before BIGINT;

-- +goose Down
ALTER TABLE amtkit_job_chunk DROP COLUMN not_before;
ALTER TABLE amtkit_job_machine DROP COLUMN claimed_at;
ALTER TABLE amtkit_job DROP COLUMN connection;
