DROP TABLE audit_chain;
DROP INDEX audit_events_chain_position;
ALTER TABLE audit_events DROP COLUMN chain_hash;
ALTER TABLE audit_events DROP COLUMN chain_position;
