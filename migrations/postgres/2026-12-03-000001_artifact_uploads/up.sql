-- Presigned, unregistered uploads (#13): what a multipart upload is completed against,
-- what the sweeper aborts when abandoned. No reference to the release on purpose: an
-- upload outlives its release's deletion until the sweeper frees its bytes.
CREATE TABLE artifact_uploads (
    artifact_id TEXT PRIMARY KEY,
    release_id  TEXT NOT NULL,
    object_key  TEXT NOT NULL,
    size        BIGINT,
    checksum    TEXT,
    upload_id   TEXT,
    part_size   BIGINT,
    part_count  INTEGER,
    created_at  BIGINT NOT NULL
);
CREATE INDEX artifact_uploads_created_at ON artifact_uploads (created_at);
