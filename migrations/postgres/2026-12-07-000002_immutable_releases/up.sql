-- Immutable releases (#14): a release published under the policy is sealed at that
-- moment and never changes again (its artifacts, its record, its existence), even
-- once unpublished. NULL for every release published before, and without the policy.
ALTER TABLE releases ADD COLUMN sealed_at BIGINT;

-- A product's own release policy; the server's RELEASY_IMMUTABLE_RELEASES applies to
-- every product on top of it. A product without a row has never set one.
CREATE TABLE product_policies (
    product TEXT PRIMARY KEY NOT NULL,
    immutable_releases INTEGER NOT NULL DEFAULT 0, -- 1 when on
    updated_at BIGINT NOT NULL
);
