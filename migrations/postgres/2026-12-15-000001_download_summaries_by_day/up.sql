-- Retention deletes the statistics of days the ledger no longer holds, a batch at a
-- time: an index on the day finds the rows before the cutoff without reading the whole
-- summary. An update that PostgreSQL cannot make HOT (download_daily carries its counts
-- in its key's index) adds an entry here too: one per group a ledger batch touches,
-- against the hundreds of ledger rows of the batch.
CREATE INDEX download_daily_day ON download_daily (day);
CREATE INDEX download_product_daily_day ON download_product_daily (day);
CREATE INDEX download_product_customers_day ON download_product_customers (day);
