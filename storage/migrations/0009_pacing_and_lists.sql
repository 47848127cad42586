-- The outbox sends personal messages before bulk fan-outs: 0 = a person is waiting for it (a relay
-- of someone's words), 1 = an appeal ping or a personal notice, 2 = a fan-out to many chats (ballots,
-- announcements, results). The claim orders by priority, then not_before.
ALTER TABLE outbox ADD COLUMN priority INTEGER NOT NULL DEFAULT 1;
CREATE INDEX outbox_due ON outbox (priority, not_before, id) WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX outbox_chat_pending ON outbox (chat_id) WHERE sent_at IS NULL AND failed_at IS NULL;

-- Lists that read only what they show, whatever the history: the appeals not yet closed, per unit,
-- building, level and assignee, in deadline order (partial: closed appeals, the history, are not in
-- them; the queries repeat the same "status <> 'closed'" term so the planner can use them).
CREATE INDEX appeals_active_unit ON appeals (unit_id, due_at) WHERE status <> 'closed';
CREATE INDEX appeals_active_building ON appeals (building_id, due_at) WHERE status <> 'closed';
CREATE INDEX appeals_active_level ON appeals (community_id, level, due_at) WHERE status <> 'closed';
CREATE INDEX appeals_active_assignee ON appeals (assignee_user_id, due_at) WHERE status <> 'closed';
-- "resolved this month" in /status: a range of this month's resolutions, not every appeal
CREATE INDEX appeals_building_resolved ON appeals (building_id, resolved_at);
