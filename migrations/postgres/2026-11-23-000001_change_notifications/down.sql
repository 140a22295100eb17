DROP TRIGGER download_tokens_notify_change ON download_tokens;
DROP TRIGGER entitlements_notify_change ON entitlements;
DROP TRIGGER artifacts_notify_change ON artifacts;
DROP TRIGGER releases_notify_change ON releases;
DROP TRIGGER api_keys_notify_change ON api_keys;
DROP TRIGGER customers_notify_change ON customers;
DROP FUNCTION releasy_notify_change();
