ALTER TABLE entitlements DROP COLUMN revision;
