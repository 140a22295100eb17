-- What an entitlement grants within its product (#14): some channels, a version
-- range, and whether what was published while it ran stays available after it ends.
-- NULL channels and versions grant everything, as every entitlement did before.
ALTER TABLE entitlements ADD COLUMN channels TEXT; -- comma-separated, most stable first
ALTER TABLE entitlements ADD COLUMN versions TEXT; -- a semver requirement, as given
ALTER TABLE entitlements ADD COLUMN perpetual_fallback INTEGER NOT NULL DEFAULT 0; -- 1 when set
