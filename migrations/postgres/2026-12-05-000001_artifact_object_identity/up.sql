-- What the store called each artifact's object at registration (#13): its entity tag
-- (S3's ETag) and, in a versioned bucket, its version. A download checks the tag, or
-- is served from the version, so bytes replaced in the store after registration are
-- never handed out. NULL where the store gives neither (the embedded store, whose
-- objects no URL can replace) and for artifacts registered before.
ALTER TABLE artifacts ADD COLUMN object_etag TEXT;
ALTER TABLE artifacts ADD COLUMN object_version TEXT;

-- The change feed lists every column but verification_claimed_until (see the previous
-- migration); the two new ones are written only at insert, listed all the same.
DROP TRIGGER artifacts_notify_change ON artifacts;
CREATE TRIGGER artifacts_notify_change
    AFTER INSERT
    OR UPDATE OF id, release_id, object_key, checksum, size, platform, created_at,
                 verification, object_etag, object_version
    OR DELETE OR TRUNCATE ON artifacts
    FOR EACH STATEMENT EXECUTE FUNCTION releasy_notify_change();
