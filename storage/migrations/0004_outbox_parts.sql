-- A message that goes out in several parts (a chart image and its text, or a text longer than one
-- Telegram message) records how many parts Telegram accepted, so a retry after a 429 or a crash
-- sends only the rest: no chart twice in a building chat.
ALTER TABLE outbox ADD COLUMN parts_sent INTEGER NOT NULL DEFAULT 0;
