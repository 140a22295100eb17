DROP TRIGGER artifacts_notify_change ON artifacts;
CREATE TRIGGER artifacts_notify_change
    AFTER INSERT
    OR UPDATE OF id, release_id, object_key, checksum, size, platform, created_at,
                 verification, object_etag, object_version
    OR DELETE OR TRUNCATE ON artifacts
    FOR EACH STATEMENT EXECUTE FUNCTION releasy_notify_change();
ALTER TABLE artifacts DROP COLUMN filetype;
ALTER TABLE artifacts DROP COLUMN arch;
ALTER TABLE artifacts DROP COLUMN os;
