DROP TRIGGER api_keys_notify_change ON api_keys;
CREATE TRIGGER api_keys_notify_change
    AFTER INSERT
    OR UPDATE OF id, customer_id, name, key_type, scopes, key_hash, key_lookup,
                 created_at, expires_at, revoked_at
    OR DELETE OR TRUNCATE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION releasy_notify_change();
ALTER TABLE download_tokens DROP COLUMN allowed_cidrs;
ALTER TABLE api_keys DROP COLUMN allowed_cidrs;
