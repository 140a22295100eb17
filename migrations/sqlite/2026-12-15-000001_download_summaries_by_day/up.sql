-- Retention deletes the statistics of days the ledger no longer holds, a batch at a
-- time: an index on the day finds the rows before the cutoff without reading the whole
-- summary (which SQLite would do under its write lock). A summary row is inserted once
-- per group and day and only its counts change after, so these indexes cost the
-- ledger's writers one entry per new group, not one per download.
CREATE INDEX download_daily_day ON download_daily (day);
CREATE INDEX download_product_daily_day ON download_product_daily (day);
CREATE INDEX download_product_customers_day ON download_product_customers (day);
