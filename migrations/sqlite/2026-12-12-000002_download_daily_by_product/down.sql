CREATE TABLE download_daily_by_day (
    day         BIGINT NOT NULL,
    artifact_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    product     TEXT NOT NULL,
    version     TEXT NOT NULL,
    platform    TEXT NOT NULL,
    downloads   BIGINT NOT NULL,
    bytes       BIGINT NOT NULL,
    PRIMARY KEY (day, artifact_id, customer_id)
);
INSERT INTO download_daily_by_day
    SELECT day, artifact_id, customer_id, product, version, platform, downloads, bytes
    FROM download_daily;
DROP TABLE download_daily;
ALTER TABLE download_daily_by_day RENAME TO download_daily;
CREATE INDEX download_daily_product ON download_daily (product, day);
CREATE INDEX download_daily_customer ON download_daily (customer_id, day);
