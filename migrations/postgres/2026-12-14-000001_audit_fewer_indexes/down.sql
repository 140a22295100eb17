CREATE INDEX audit_events_created_at_id ON audit_events (created_at DESC, id DESC);
ALTER TABLE audit_events DROP CONSTRAINT audit_events_pkey;
ALTER TABLE audit_events ADD PRIMARY KEY (id);
DROP INDEX audit_events_event_created;
CREATE INDEX audit_events_event_created ON audit_events (event, created_at DESC);
