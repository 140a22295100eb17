ALTER TABLE download_tokens DROP COLUMN allowed_cidrs;
ALTER TABLE api_keys DROP COLUMN allowed_cidrs;
