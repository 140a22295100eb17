-- Where a key may be used from (allowed_cidrs: ranges separated by spaces; NULL means
-- anywhere), and the rule a download token inherited from the key that asked for it.
ALTER TABLE api_keys ADD COLUMN allowed_cidrs TEXT;
ALTER TABLE download_tokens ADD COLUMN allowed_cidrs TEXT;
