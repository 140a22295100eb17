ALTER TABLE entitlements DROP COLUMN perpetual_fallback;
ALTER TABLE entitlements DROP COLUMN versions;
ALTER TABLE entitlements DROP COLUMN channels;
