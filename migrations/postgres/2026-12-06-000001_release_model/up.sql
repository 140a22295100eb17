-- The release model (#14): channels, version order, notes, metadata and yanking.
--
-- version_order is the domain's Version::order_key: comparing two keys byte by byte
-- orders their versions by semver precedence (non-semver versions all '0', below every
-- semver key). "C" collation makes PostgreSQL compare bytes, as the key needs. Rows
-- that exist now get '' here and their key (and the channel their version implies)
-- from the server right after migrating: SQL cannot parse semver. '' sorts below
-- every key, so a row not yet filled in is never taken for the newest.
ALTER TABLE releases ADD COLUMN channel TEXT NOT NULL DEFAULT 'stable';
ALTER TABLE releases ADD COLUMN version_order TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE releases ADD COLUMN notes TEXT;
ALTER TABLE releases ADD COLUMN metadata TEXT;
ALTER TABLE releases ADD COLUMN yanked_at BIGINT;
ALTER TABLE releases ADD COLUMN yank_reason TEXT;
ALTER TABLE releases ADD COLUMN yank_blocks_downloads INTEGER NOT NULL DEFAULT 0; -- 1 while yanked with block_downloads

-- latest and upgrade: one product's releases, highest version first.
CREATE INDEX releases_product_version_order
    ON releases (product, version_order DESC, created_at DESC, id DESC);
