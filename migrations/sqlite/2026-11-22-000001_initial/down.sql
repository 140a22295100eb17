DROP TABLE audit_events;
DROP TABLE idempotency_keys;
DROP TABLE download_tokens;
DROP TABLE entitlements;
DROP TABLE artifacts;
DROP TABLE releases;
DROP TABLE api_keys;
DROP TABLE customers;
