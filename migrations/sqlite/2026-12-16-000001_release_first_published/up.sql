-- When a release was first published. Publishing sets `published_at` anew and
-- unpublishing clears it; the perpetual fallback ("releases published before the
-- entitlement ended stay available") judges by the first publication, so that
-- unpublishing and republishing a release does not take it from customers whose
-- entitlement ended in between.
ALTER TABLE releases ADD COLUMN first_published_at BIGINT;
UPDATE releases SET first_published_at = published_at;
