-- Whether each artifact's stored bytes were checked against its declared size and
-- sha256 (#13). Artifacts registered before are 'unverified': still downloadable, and
-- `releasy-server verify-artifacts` checks them. A verifier claims a 'pending' one until
-- `verification_claimed_until` (unix seconds), so each is checked by one instance.
ALTER TABLE artifacts ADD COLUMN verification TEXT NOT NULL DEFAULT 'unverified'
    CHECK (verification IN ('verified', 'pending', 'failed', 'unverified'));
ALTER TABLE artifacts ADD COLUMN verification_claimed_until BIGINT;
CREATE INDEX artifacts_verification ON artifacts (verification, id);

-- The change feed: every column but verification_claimed_until, which verifiers write
-- to claim a check and no cached answer depends on. A migration adding a column to
-- artifacts must recreate this trigger with the new column listed.
DROP TRIGGER artifacts_notify_change ON artifacts;
CREATE TRIGGER artifacts_notify_change
    AFTER INSERT
    OR UPDATE OF id, release_id, object_key, checksum, size, platform, created_at,
                 verification
    OR DELETE OR TRUNCATE ON artifacts
    FOR EACH STATEMENT EXECUTE FUNCTION releasy_notify_change();

-- A process writing beside a serving one (`releasy-server verify-artifacts`) bumps this
-- counter; the serving process polls it and drops its read cache when it moves. (On
-- PostgreSQL the change feed reports such writes too.)
CREATE TABLE external_writes (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    epoch BIGINT NOT NULL
);
INSERT INTO external_writes (id, epoch) VALUES (1, 0);
