-- Notices and tasks with read receipts (issue 12). Moments are integer epoch seconds (UTC), as in
-- every other table.
--
-- A notice is composed in the chat of its sender (the staff chat, or a building chat by its head):
-- the command makes a draft, the scope buttons send it. Each recipient is a row (one per person or
-- building chat) whose state is its answer; counts are COUNTs of these rows, so a double tap can
-- never count twice. Every due moment (reminder, due date, urgent re-ping, escalation) is a row of
-- notice_deadlines, swept idempotently like the appeals' deadlines.
CREATE TABLE notices (
    id {pk},
    community_id BIGINT NOT NULL REFERENCES communities (id),
    building_id BIGINT REFERENCES buildings (id), -- set when a building head sends (their building only)
    sender_id BIGINT NOT NULL,
    origin_chat_id BIGINT NOT NULL, -- where it was composed; its scope buttons work only there
    kind TEXT NOT NULL, -- notice | task | urgent
    body TEXT NOT NULL,
    due_at BIGINT, -- a task: the end of its due day (local working hours)
    attach_chat_id BIGINT, -- a photo or document sent with it (copied to each recipient)
    attach_message_id BIGINT,
    scope TEXT, -- NULL while a draft: heads | bheads | buildings | chats
    chosen TEXT NOT NULL DEFAULT '[]', -- the building ids picked for the scope "buildings" (JSON)
    status TEXT NOT NULL, -- draft | sent | cancelled
    status_chat_id BIGINT, -- the sender's status message (live counts, edited, debounced)
    status_message_id BIGINT,
    counts_changed_at BIGINT, -- an answer came since the status message was last edited
    counts_shown_at BIGINT,
    created_at BIGINT NOT NULL,
    sent_at BIGINT
);
CREATE INDEX notices_origin ON notices (origin_chat_id, created_at);
CREATE INDEX notices_counts_changed ON notices (counts_changed_at) WHERE counts_changed_at IS NOT NULL;

CREATE TABLE notice_recipients (
    notice_id BIGINT NOT NULL REFERENCES notices (id),
    chat_id BIGINT NOT NULL, -- a person's private chat (= their user id), or a building chat
    building_id BIGINT, -- the building the person heads (a unit of), for the building head's list
    state TEXT NOT NULL, -- pending | read | done | cannot | posted (a building chat: nobody answers)
    answered_at BIGINT,
    PRIMARY KEY (notice_id, chat_id)
);
CREATE INDEX notice_recipients_state ON notice_recipients (notice_id, state);

CREATE TABLE notice_deadlines (
    id {pk},
    notice_id BIGINT NOT NULL REFERENCES notices (id),
    kind TEXT NOT NULL, -- remind | due | reping | escalate
    seq INTEGER NOT NULL DEFAULT 0, -- the re-ping's number (dedupe keys of its messages)
    due_at BIGINT NOT NULL,
    done_at BIGINT,
    outcome TEXT,
    UNIQUE (notice_id, kind, seq)
);
CREATE INDEX notice_deadlines_due ON notice_deadlines (due_at) WHERE done_at IS NULL;
