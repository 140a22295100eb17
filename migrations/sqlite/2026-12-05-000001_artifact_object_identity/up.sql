-- What the store called each artifact's object at registration (#13): its entity tag
-- (S3's ETag) and, in a versioned bucket, its version. A download checks the tag, or
-- is served from the version, so bytes replaced in the store after registration are
-- never handed out. NULL where the store gives neither (the embedded store, whose
-- objects no URL can replace) and for artifacts registered before.
ALTER TABLE artifacts ADD COLUMN object_etag TEXT;
ALTER TABLE artifacts ADD COLUMN object_version TEXT;
