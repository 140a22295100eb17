-- The change feed for the instances' read caches: any statement that changes a cached
-- table, from any writer (another instance, an operator in psql), sends its table's
-- name on the channel `releasy_changes`. NOTIFY is transactional: it is delivered when
-- the transaction commits (never on rollback), and a transaction's identical
-- notifications are sent once.

CREATE FUNCTION releasy_notify_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('releasy_changes', TG_TABLE_NAME);
    RETURN NULL;
END;
$$;

CREATE TRIGGER customers_notify_change
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON customers
    FOR EACH STATEMENT EXECUTE FUNCTION releasy_notify_change();

-- Every column but last_used_at, which the server writes about once a minute per key
-- and no cached answer depends on. A migration adding a column to api_keys must
-- recreate this trigger with the new column listed.
CREATE TRIGGER api_keys_notify_change
    AFTER INSERT
    OR UPDATE OF id, customer_id, name, key_type, scopes, key_hash, key_lookup,
                 created_at, expires_at, revoked_at
    OR DELETE OR TRUNCATE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION releasy_notify_change();

CREATE TRIGGER releases_notify_change
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON releases
    FOR EACH STATEMENT EXECUTE FUNCTION releasy_notify_change();

CREATE TRIGGER artifacts_notify_change
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON artifacts
    FOR EACH STATEMENT EXECUTE FUNCTION releasy_notify_change();

CREATE TRIGGER entitlements_notify_change
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON entitlements
    FOR EACH STATEMENT EXECUTE FUNCTION releasy_notify_change();

-- A new token changes no cached answer; only removing one (revocation, cleanup) does.
CREATE TRIGGER download_tokens_notify_change
    AFTER DELETE OR TRUNCATE ON download_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION releasy_notify_change();
