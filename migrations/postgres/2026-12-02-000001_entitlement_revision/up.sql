-- Entitlement changes are one compare-and-set on this counter (see
-- EntitlementRepository::replace): a change judged on one revision never overwrites
-- another.
ALTER TABLE entitlements ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
