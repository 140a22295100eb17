DROP TABLE download_quota_counts;
ALTER TABLE entitlements DROP COLUMN quota_period;
ALTER TABLE entitlements DROP COLUMN quota_bytes;
ALTER TABLE entitlements DROP COLUMN quota_downloads;
