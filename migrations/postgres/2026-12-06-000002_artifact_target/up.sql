-- What an artifact runs on and what kind of file it is (#14): given at registration or
-- derived from the platform and file name. NULL where unknown, and for artifacts
-- registered before.
ALTER TABLE artifacts ADD COLUMN os TEXT;
ALTER TABLE artifacts ADD COLUMN arch TEXT;
ALTER TABLE artifacts ADD COLUMN filetype TEXT;

-- The change feed lists the artifact columns it watches; these are written only at
-- insert, listed all the same.
DROP TRIGGER artifacts_notify_change ON artifacts;
CREATE TRIGGER artifacts_notify_change
    AFTER INSERT
    OR UPDATE OF id, release_id, object_key, checksum, size, platform, created_at,
                 verification, object_etag, object_version, os, arch, filetype
    OR DELETE OR TRUNCATE ON artifacts
    FOR EACH STATEMENT EXECUTE FUNCTION releasy_notify_change();
