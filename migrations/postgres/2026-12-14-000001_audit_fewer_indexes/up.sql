-- Every customer request writes an `api_key.auth` event, and every index on the table
-- is written once per event: most of what an authenticated read costs the database.
-- The event index no longer holds authentication events: they are nearly every row, so
-- a listing narrowed to them walks the newest-first index and fills a page at once. A
-- listing narrowed to another event states this index's condition in its query
-- (NOT_KEY_AUTH in releasy-store-diesel), which lets any plan use it. A server of the
-- previous version, during a rollout or after a rollback, lists correctly; its listing
-- narrowed to a rare event may walk the newest-first index instead.
DROP INDEX audit_events_event_created;
CREATE INDEX audit_events_event_created ON audit_events (event, created_at DESC)
    WHERE event <> 'api_key.auth';
