-- Whether a runtime entry's credential has made a change on the device (not
-- only read it): such an entry is not replaced by one that has only read.

-- +goose Up
ALTER TABLE amtkit_runtime ADD COLUMN changes INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE amtkit_runtime DROP COLUMN changes;
