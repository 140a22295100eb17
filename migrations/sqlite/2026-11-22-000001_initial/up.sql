-- The whole contract's schema. Ids are UUID text, timestamps Unix seconds (BIGINT),
-- so one diesel schema serves PostgreSQL and SQLite alike.

CREATE TABLE customers (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    plan         TEXT,
    created_at   BIGINT NOT NULL,
    suspended_at BIGINT
);
-- Newest-first listing and its keyset cursor.
CREATE INDEX customers_created_at_id ON customers (created_at DESC, id DESC);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    customer_id  TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    name         TEXT,
    key_type     TEXT NOT NULL,
    scopes       TEXT NOT NULL,
    key_hash     TEXT NOT NULL,
    key_lookup   TEXT,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    revoked_at   BIGINT,
    last_used_at BIGINT
);
CREATE INDEX api_keys_key_lookup ON api_keys (key_lookup);
-- Finds keys stored with the legacy unsalted SHA-256 hash.
CREATE INDEX api_keys_key_hash ON api_keys (key_hash);
CREATE INDEX api_keys_customer_id ON api_keys (customer_id);

CREATE TABLE releases (
    id           TEXT PRIMARY KEY,
    product      TEXT NOT NULL,
    version      TEXT NOT NULL,
    status       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    published_at BIGINT,
    CONSTRAINT releases_product_version UNIQUE (product, version)
);
CREATE INDEX releases_created_at_id ON releases (created_at DESC, id DESC);
CREATE INDEX releases_status_product ON releases (status, product);

CREATE TABLE artifacts (
    id         TEXT PRIMARY KEY,
    release_id TEXT NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    object_key TEXT NOT NULL UNIQUE,
    checksum   TEXT NOT NULL,
    size       BIGINT NOT NULL,
    platform   TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX artifacts_release_id ON artifacts (release_id);

CREATE TABLE entitlements (
    id          TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    product     TEXT NOT NULL,
    starts_at   BIGINT NOT NULL,
    ends_at     BIGINT,
    metadata    TEXT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX entitlements_customer_product ON entitlements (customer_id, product);

CREATE TABLE download_tokens (
    id          TEXT PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    artifact_id TEXT NOT NULL REFERENCES artifacts (id) ON DELETE CASCADE,
    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    purpose     TEXT,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX download_tokens_artifact_id ON download_tokens (artifact_id);
CREATE INDEX download_tokens_expires_at ON download_tokens (expires_at);

CREATE TABLE idempotency_keys (
    scope           TEXT NOT NULL,
    idem_key        TEXT NOT NULL,
    fingerprint     TEXT NOT NULL,
    state           TEXT NOT NULL,
    response_status INTEGER,
    response_body   TEXT,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (scope, idem_key)
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);

-- No foreign key on customer_id: the trail outlives what it describes.
CREATE TABLE audit_events (
    id          TEXT PRIMARY KEY,
    customer_id TEXT,
    actor       TEXT NOT NULL,
    event       TEXT NOT NULL,
    payload     TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX audit_events_created_at_id ON audit_events (created_at DESC, id DESC);
CREATE INDEX audit_events_customer_created ON audit_events (customer_id, created_at DESC);
CREATE INDEX audit_events_event_created ON audit_events (event, created_at DESC);
