-- Download quotas (issue 16): an entitlement may limit the downloads and bytes it
-- allows per UTC day or calendar month. NULL limits: none; a quota has a period and at
-- least one limit (the domain checks it as it reads the row).
ALTER TABLE entitlements ADD COLUMN quota_downloads BIGINT;
ALTER TABLE entitlements ADD COLUMN quota_bytes BIGINT;
ALTER TABLE entitlements ADD COLUMN quota_period TEXT;

-- What each period of a quota has counted: one row per entitlement and period, charged
-- by one conditional upsert, so concurrent resolves on any number of instances never
-- count past a limit. A new period is a new row; rows of periods that are over are
-- pruned. No foreign key on purpose: a resolve racing an entitlement's deletion must
-- not fail on it, and the row goes with its period anyway.
CREATE TABLE download_quota_counts (
    entitlement_id TEXT NOT NULL,
    period         TEXT NOT NULL,
    period_start   BIGINT NOT NULL,
    resets_at      BIGINT NOT NULL,
    downloads      BIGINT NOT NULL,
    bytes          BIGINT NOT NULL,
    PRIMARY KEY (entitlement_id, period, period_start)
);
CREATE INDEX download_quota_counts_resets_at ON download_quota_counts (resets_at);
