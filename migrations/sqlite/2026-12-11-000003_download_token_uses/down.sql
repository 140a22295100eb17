ALTER TABLE download_tokens DROP COLUMN uses;
ALTER TABLE download_tokens DROP COLUMN max_uses;
