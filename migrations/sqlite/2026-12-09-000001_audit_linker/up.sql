-- The audit chain's linker (#15): a change writes its event unlinked, in its own
-- transaction, and a linker chains committed events after the head (so no write waits
-- on the head row). This index holds exactly the events awaiting their link, in the
-- order the linker takes them: it stays a few rows small while a server runs.
CREATE INDEX audit_events_awaiting_link ON audit_events (created_at, id)
    WHERE chain_position IS NULL;
