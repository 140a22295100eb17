ALTER TABLE artifact_uploads DROP COLUMN ended_at;
