-- Every customer request writes an `api_key.auth` event, and every index on the table
-- is written once per event. The event index no longer holds authentication events:
-- they are nearly every row, so a listing narrowed to them walks the newest-first
-- index and fills a page at once. A listing narrowed to another event states this
-- index's condition in its query (NOT_KEY_AUTH in releasy-store-diesel): SQLite uses a
-- partial index only for a query that states its condition.
DROP INDEX audit_events_event_created;
CREATE INDEX audit_events_event_created ON audit_events (event, created_at DESC)
    WHERE event <> 'api_key.auth';
