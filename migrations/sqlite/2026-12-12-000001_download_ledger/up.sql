-- The download ledger: one row per token issued and per resolve of a known token, with
-- how it ended. Written behind in batches, like the audit trail. No foreign keys on
-- purpose: it is history, and outlives the releases and keys it names.
CREATE TABLE download_ledger (
    id             TEXT PRIMARY KEY,
    at             BIGINT NOT NULL,
    customer_id    TEXT NOT NULL,
    api_key_id     TEXT,
    artifact_id    TEXT NOT NULL,
    release_id     TEXT NOT NULL,
    product        TEXT NOT NULL,
    version        TEXT NOT NULL,
    platform       TEXT NOT NULL,
    bytes          BIGINT NOT NULL,
    token_id       TEXT NOT NULL,
    purpose        TEXT,
    client_address TEXT,
    user_agent     TEXT,
    outcome        TEXT NOT NULL
);
-- Newest-first listing and its keyset cursor, whole or narrowed to one customer,
-- product or artifact; retention deletes from the oldest end of the first.
CREATE INDEX download_ledger_at_id ON download_ledger (at DESC, id DESC);
CREATE INDEX download_ledger_customer ON download_ledger (customer_id, at DESC, id DESC);
CREATE INDEX download_ledger_product ON download_ledger (product, at DESC, id DESC);
CREATE INDEX download_ledger_artifact ON download_ledger (artifact_id, at DESC, id DESC);

-- The statistics' summary: successful downloads (links handed out) and their bytes per
-- UTC day, artifact and customer, added to in the transaction that writes their rows.
-- Statistics group these rows, never the ledger's.
CREATE TABLE download_daily (
    day         BIGINT NOT NULL,
    artifact_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    product     TEXT NOT NULL,
    version     TEXT NOT NULL,
    platform    TEXT NOT NULL,
    downloads   BIGINT NOT NULL,
    bytes       BIGINT NOT NULL,
    PRIMARY KEY (day, artifact_id, customer_id)
);
CREATE INDEX download_daily_product ON download_daily (product, day);
CREATE INDEX download_daily_customer ON download_daily (customer_id, day);

-- The key that asked for a token, so its resolves name it too.
ALTER TABLE download_tokens ADD COLUMN api_key_id TEXT;
