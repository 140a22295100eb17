DROP TABLE external_writes;
DROP TRIGGER artifacts_notify_change ON artifacts;
CREATE TRIGGER artifacts_notify_change
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON artifacts
    FOR EACH STATEMENT EXECUTE FUNCTION releasy_notify_change();
DROP INDEX artifacts_verification;
ALTER TABLE artifacts DROP COLUMN verification_claimed_until;
ALTER TABLE artifacts DROP COLUMN verification;
