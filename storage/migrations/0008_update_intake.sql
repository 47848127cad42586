-- Durable update intake (at-least-once): every update fetched from Telegram (getUpdates) or posted
-- to the webhook is stored here, raw, and committed BEFORE Telegram is told it was received (the
-- next getUpdates offset, or the webhook's 200). Updates are handled from this table; the row keyed
-- by Telegram's update_id is the guard against handling a redelivered update twice.
-- state: 'new' (stored, not handled yet), 'done' (handled), 'failed' (given up: pending at too many
-- starts, i.e. it may be what kills the process). starts = how many process starts found it pending.
CREATE TABLE received_updates (
    update_id BIGINT PRIMARY KEY,
    payload TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    state TEXT NOT NULL DEFAULT 'new',
    starts INTEGER NOT NULL DEFAULT 0,
    handled_at BIGINT
);
CREATE INDEX received_updates_pending ON received_updates (update_id) WHERE state = 'new';
CREATE INDEX received_updates_handled ON received_updates (handled_at) WHERE state <> 'new';
