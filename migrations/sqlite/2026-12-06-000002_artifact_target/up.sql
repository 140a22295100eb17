-- What an artifact runs on and what kind of file it is (#14): given at registration or
-- derived from the platform and file name. NULL where unknown, and for artifacts
-- registered before.
ALTER TABLE artifacts ADD COLUMN os TEXT;
ALTER TABLE artifacts ADD COLUMN arch TEXT;
ALTER TABLE artifacts ADD COLUMN filetype TEXT;
