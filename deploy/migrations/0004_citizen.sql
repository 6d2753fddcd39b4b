-- Citizen app API: the sequence number of a message's read event, kept so that a
-- retried "mark as read" re-emits the identical MessageRead event.
ALTER TABLE messages ADD COLUMN IF NOT EXISTS read_seq integer;

-- Sessions are looked up by token hash (primary key); expired ones are pruned per citizen.
CREATE INDEX IF NOT EXISTS citizen_sessions_fiscal_code_idx ON citizen_sessions (fiscal_code);
