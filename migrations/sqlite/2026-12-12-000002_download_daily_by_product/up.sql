-- The statistics' summary keyed by product first, stored in key order (WITHOUT ROWID):
-- a product's statistics read one contiguous range instead of looking up each of its
-- rows, whatever the planner knows of the table. (Product follows from the artifact, so
-- the key stays one row per day, artifact and customer.)
CREATE TABLE download_daily_by_product (
    product     TEXT NOT NULL,
    day         BIGINT NOT NULL,
    artifact_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    version     TEXT NOT NULL,
    platform    TEXT NOT NULL,
    downloads   BIGINT NOT NULL,
    bytes       BIGINT NOT NULL,
    PRIMARY KEY (product, day, artifact_id, customer_id)
) WITHOUT ROWID;
INSERT INTO download_daily_by_product
    SELECT product, day, artifact_id, customer_id, version, platform, downloads, bytes
    FROM download_daily;
DROP TABLE download_daily;
ALTER TABLE download_daily_by_product RENAME TO download_daily;
CREATE INDEX download_daily_customer ON download_daily (customer_id, day);
