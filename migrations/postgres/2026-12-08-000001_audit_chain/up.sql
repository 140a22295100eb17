-- The audit trail's hash chain (#15): every event stores its position in the chain
-- and a SHA-256 over its content and the previous event's hash, written by whoever
-- writes the event, in its transaction. Events stored before this migration are
-- chained once, in (created_at, id) order, when the server next starts; NULL until then.
ALTER TABLE audit_events ADD COLUMN chain_position BIGINT;
ALTER TABLE audit_events ADD COLUMN chain_hash TEXT;
CREATE UNIQUE INDEX audit_events_chain_position ON audit_events (chain_position);

-- One row: where the stored chain starts (the link before the oldest event kept, moved
-- when retention cuts the chain) and its head (the newest link). Writers lock this row
-- to append, which orders every append.
CREATE TABLE audit_chain (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    start_position BIGINT NOT NULL,
    start_hash TEXT NOT NULL,
    head_position BIGINT NOT NULL,
    head_hash TEXT NOT NULL
);
INSERT INTO audit_chain (id, start_position, start_hash, head_position, head_hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000',
        0, '0000000000000000000000000000000000000000000000000000000000000000');
