DROP INDEX releases_product_version_order;
ALTER TABLE releases DROP COLUMN yank_blocks_downloads;
ALTER TABLE releases DROP COLUMN yank_reason;
ALTER TABLE releases DROP COLUMN yanked_at;
ALTER TABLE releases DROP COLUMN metadata;
ALTER TABLE releases DROP COLUMN notes;
ALTER TABLE releases DROP COLUMN version_order;
ALTER TABLE releases DROP COLUMN channel;
