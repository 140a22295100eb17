ALTER TABLE download_tokens DROP COLUMN api_key_id;
DROP TABLE download_daily;
DROP TABLE download_ledger;
