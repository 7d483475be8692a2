-- A chunk's machines in their order: a worker reads the machines of the
-- chunk it runs (job, chunk, outcome NULL) ORDER BY seq. With only
-- (job, chunk), SQLite preferred the primary key (job, seq) for its order
-- and walked every machine of the job for each chunk.

-- +goose Up
CREATE INDEX amtkit_job_machine_chunk_seq ON amtkit_job_machine (job, chunk, seq);
DROP INDEX amtkit_job_machine_chunk;

-- +goose Down
CREATE INDEX amtkit_job_machine_chunk ON amtkit_job_machine (job, chunk);
DROP INDEX amtkit_job_machine_chunk_seq;
