ALTER TABLE artifacts DROP COLUMN object_version;
ALTER TABLE artifacts DROP COLUMN object_etag;
