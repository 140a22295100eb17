-- N-use links: how many times a token may be resolved (NULL: as often as its lifetime
-- allows) and how many times it was. `uses` is counted by one conditional UPDATE per
-- resolve of a limited token, so concurrent resolves on any instance never overspend.
-- Counting changes no cached grant, so the change-feed trigger (deletes only) is left
-- as it is.
ALTER TABLE download_tokens ADD COLUMN max_uses INTEGER;
ALTER TABLE download_tokens ADD COLUMN uses INTEGER NOT NULL DEFAULT 0;
