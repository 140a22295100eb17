-- Where a key may be used from (allowed_cidrs: ranges separated by spaces; NULL means
-- anywhere), and the rule a download token inherited from the key that asked for it.
ALTER TABLE api_keys ADD COLUMN allowed_cidrs TEXT;
ALTER TABLE download_tokens ADD COLUMN allowed_cidrs TEXT;

-- An address rule decides authentication, so a change to it must reach every
-- instance's read cache: the trigger lists it beside the other columns (still not
-- last_used_at or last_used_address, which decide nothing).
DROP TRIGGER api_keys_notify_change ON api_keys;
CREATE TRIGGER api_keys_notify_change
    AFTER INSERT
    OR UPDATE OF id, customer_id, name, key_type, scopes, key_hash, key_lookup,
                 created_at, expires_at, revoked_at, allowed_cidrs
    OR DELETE OR TRUNCATE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION releasy_notify_change();
