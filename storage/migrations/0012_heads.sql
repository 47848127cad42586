-- Heads' workflow (issue 8 "Unit heads and staff", issue 9 "hidden pending action").
-- A Reply / Ask / Resolved action is saved together with its prompt, which goes through the outbox
-- in the same transaction (prompt_key = the prompt's outbox dedupe key): the action takes the
-- person's next message only once its prompt was delivered, and it always expires (expires_at).
ALTER TABLE pending_actions ADD COLUMN prompt_key TEXT;
ALTER TABLE pending_actions ADD COLUMN expires_at BIGINT;
