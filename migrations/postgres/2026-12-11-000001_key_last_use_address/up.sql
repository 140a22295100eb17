-- Where a key was last used: the client address of the use recorded in last_used_at
-- (written with it, at most once a minute per key). Like last_used_at it changes no
-- cached answer, so it stays out of the change-feed trigger's column list.
ALTER TABLE api_keys ADD COLUMN last_used_address TEXT;
