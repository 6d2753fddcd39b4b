-- What a sender may learn (docs/integrators/premium.md, callbacks.md).

-- The citizen's read-status consent for the sender, as it was when the message was
-- read: a sender learns of the read only for an ADVANCED message with consent then.
-- Kept, so a retried read re-emits the same decision.
ALTER TABLE messages ADD COLUMN IF NOT EXISTS read_consent boolean;

-- The event kinds a service wants on its callback (message, notification, read,
-- paid); NULL: every kind it is entitled to.
ALTER TABLE services ADD COLUMN IF NOT EXISTS callback_events text[];
