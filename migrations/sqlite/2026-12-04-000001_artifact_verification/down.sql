DROP TABLE external_writes;
DROP INDEX artifacts_verification;
ALTER TABLE artifacts DROP COLUMN verification_claimed_until;
ALTER TABLE artifacts DROP COLUMN verification;
