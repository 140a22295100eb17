-- An aborted upload keeps its record, ended, until its TTL is over: a registration of
-- it is refused (a URL handed out before the abort can still store bytes), and the
-- sweeper frees what such a URL stored before it removes the record.
ALTER TABLE artifact_uploads ADD COLUMN ended_at BIGINT;
