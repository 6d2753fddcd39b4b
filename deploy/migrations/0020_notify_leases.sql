-- Claims carry an owner and a lease (issue 12).
--
-- `claimed_by` names the notify instance that claimed the row for a send; the claim
-- is trusted until `lease_until`. A crashed instance strands nothing for longer than
-- the lease: the sweeper re-drives expired leases, and a restarted instance expires
-- its own leases at once. `claimed_at` stays (the time of the claim).
ALTER TABLE notifications ADD COLUMN IF NOT EXISTS claimed_by text;
ALTER TABLE notifications ADD COLUMN IF NOT EXISTS lease_until timestamptz;

CREATE INDEX IF NOT EXISTS notifications_lease_idx
    ON notifications (lease_until)
    WHERE status = 'THROTTLED' AND lease_until IS NOT NULL;
CREATE INDEX IF NOT EXISTS notifications_owner_idx
    ON notifications (claimed_by)
    WHERE status = 'THROTTLED' AND claimed_by IS NOT NULL;
