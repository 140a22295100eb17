-- The statistics' summary keyed by product first, its counts carried in the key's index
-- (INCLUDE): a product's statistics read one contiguous range of one index, and never
-- the table where the visibility map allows. (Product follows from the artifact, so the
-- key stays one row per day, artifact and customer.)
ALTER TABLE download_daily DROP CONSTRAINT download_daily_pkey;
DROP INDEX download_daily_product;
ALTER TABLE download_daily
    ADD PRIMARY KEY (product, day, artifact_id, customer_id) INCLUDE (downloads, bytes);
