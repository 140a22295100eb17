DROP INDEX audit_events_event_created;
CREATE INDEX audit_events_event_created ON audit_events (event, created_at DESC);
