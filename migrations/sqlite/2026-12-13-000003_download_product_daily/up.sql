-- One product's downloads per day, the figures a dashboard draws: statistics grouped
-- by day for one product read these rows (one a day) instead of the per-artifact and
-- per-customer summary (hundreds a day). Distinct customers do not add up across
-- artifacts, so each (product, day, customer) that downloaded is kept once in
-- download_product_customers, and a batch counts the customers it inserts there for
-- the first time. Both are written in the transaction of the batch they sum.
CREATE TABLE download_product_customers (
    product     TEXT NOT NULL,
    day         BIGINT NOT NULL,
    customer_id TEXT NOT NULL,
    PRIMARY KEY (product, day, customer_id)
) WITHOUT ROWID;
CREATE TABLE download_product_daily (
    product   TEXT NOT NULL,
    day       BIGINT NOT NULL,
    downloads BIGINT NOT NULL,
    bytes     BIGINT NOT NULL,
    customers BIGINT NOT NULL,
    PRIMARY KEY (product, day)
) WITHOUT ROWID;
INSERT INTO download_product_customers (product, day, customer_id)
    SELECT DISTINCT product, day, customer_id FROM download_daily;
INSERT INTO download_product_daily (product, day, downloads, bytes, customers)
    SELECT product, day, SUM(downloads), SUM(bytes), COUNT(DISTINCT customer_id)
    FROM download_daily GROUP BY product, day;
