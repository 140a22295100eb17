ALTER TABLE download_daily DROP CONSTRAINT download_daily_pkey;
ALTER TABLE download_daily ADD PRIMARY KEY (day, artifact_id, customer_id);
CREATE INDEX download_daily_product ON download_daily (product, day);
