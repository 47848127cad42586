-- Core schema: registry (communities, buildings, units, people and roles) and the appeal loop.
-- Moments are integer epoch seconds (UTC); ids of Telegram users and chats are BIGINT.

CREATE TABLE users (
    id BIGINT PRIMARY KEY,
    first_name TEXT NOT NULL DEFAULT '',
    last_name TEXT,
    username TEXT,
    language_code TEXT,
    lang_override TEXT,
    started INTEGER NOT NULL DEFAULT 0,
    unreachable_since BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX users_username ON users (username);

CREATE TABLE communities (
    id {pk},
    name TEXT NOT NULL,
    staff_chat_id BIGINT NOT NULL UNIQUE,
    street_chat_id BIGINT UNIQUE,
    timezone TEXT NOT NULL,
    country TEXT NOT NULL,
    language TEXT NOT NULL,
    settings TEXT NOT NULL DEFAULT '{}',
    active INTEGER NOT NULL DEFAULT 1,
    created_by BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE staff (
    community_id BIGINT NOT NULL REFERENCES communities (id),
    user_id BIGINT NOT NULL,
    role TEXT NOT NULL,
    synced_at BIGINT NOT NULL,
    PRIMARY KEY (community_id, user_id, role)
);
CREATE INDEX staff_user ON staff (user_id);

CREATE TABLE calendar_overrides (
    community_id BIGINT NOT NULL REFERENCES communities (id),
    day TEXT NOT NULL,
    working INTEGER NOT NULL,
    set_by BIGINT NOT NULL,
    set_at BIGINT NOT NULL,
    PRIMARY KEY (community_id, day)
);

CREATE TABLE invites (
    code TEXT PRIMARY KEY,
    community_id BIGINT NOT NULL REFERENCES communities (id),
    kind TEXT NOT NULL,
    created_by BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    used_chat_id BIGINT
);

CREATE TABLE buildings (
    id {pk},
    community_id BIGINT NOT NULL REFERENCES communities (id),
    chat_id BIGINT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    head_user_id BIGINT,
    active INTEGER NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL
);
CREATE INDEX buildings_community ON buildings (community_id);
CREATE INDEX buildings_head ON buildings (head_user_id);

CREATE TABLE units (
    id {pk},
    building_id BIGINT NOT NULL REFERENCES buildings (id),
    name TEXT NOT NULL,
    position INTEGER NOT NULL DEFAULT 0,
    head_user_id BIGINT,
    UNIQUE (building_id, name)
);
CREATE INDEX units_head ON units (head_user_id);

CREATE TABLE residents (
    user_id BIGINT NOT NULL,
    building_id BIGINT NOT NULL REFERENCES buildings (id),
    unit_id BIGINT NOT NULL REFERENCES units (id),
    joined_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, building_id)
);
CREATE INDEX residents_unit ON residents (unit_id);

CREATE TABLE appeals (
    id {pk},
    community_id BIGINT NOT NULL REFERENCES communities (id),
    building_id BIGINT NOT NULL REFERENCES buildings (id),
    unit_id BIGINT REFERENCES units (id),
    resident_id BIGINT NOT NULL,
    category TEXT NOT NULL,
    status TEXT NOT NULL,
    level INTEGER NOT NULL,
    assignee_user_id BIGINT,
    body TEXT NOT NULL,
    body_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    first_reply_due_at BIGINT NOT NULL,
    first_reply_at BIGINT,
    due_at BIGINT,
    remaining_seconds INTEGER,
    resolved_at BIGINT,
    closed_at BIGINT,
    rating INTEGER,
    stage INTEGER NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL
);
CREATE INDEX appeals_resident ON appeals (resident_id, created_at);
CREATE INDEX appeals_building_status ON appeals (building_id, status);
CREATE INDEX appeals_assignee ON appeals (assignee_user_id, status);
CREATE INDEX appeals_community_status ON appeals (community_id, status);

CREATE TABLE appeal_media (
    id {pk},
    appeal_id BIGINT NOT NULL REFERENCES appeals (id),
    kind TEXT NOT NULL,
    file_id TEXT NOT NULL,
    caption TEXT,
    from_user BIGINT NOT NULL,
    added_at BIGINT NOT NULL
);
CREATE INDEX appeal_media_appeal ON appeal_media (appeal_id);

-- Append-only history: rows are inserted, never updated or deleted.
CREATE TABLE appeal_events (
    id {pk},
    appeal_id BIGINT NOT NULL REFERENCES appeals (id),
    at BIGINT NOT NULL,
    actor_id BIGINT,
    kind TEXT NOT NULL,
    level INTEGER NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX appeal_events_appeal ON appeal_events (appeal_id, id);

-- Which bot message (in which chat) belongs to which appeal: replies are routed by this,
-- never by forwarded-message metadata.
CREATE TABLE message_links (
    chat_id BIGINT NOT NULL,
    message_id BIGINT NOT NULL,
    appeal_id BIGINT NOT NULL REFERENCES appeals (id),
    PRIMARY KEY (chat_id, message_id)
);

-- Due moments. The sweep claims rows with due_at <= now and done_at IS NULL (partial index:
-- its cost grows with what is due, not with history).
CREATE TABLE deadlines (
    id {pk},
    appeal_id BIGINT NOT NULL REFERENCES appeals (id),
    kind TEXT NOT NULL,
    stage INTEGER NOT NULL,
    due_at BIGINT NOT NULL,
    done_at BIGINT,
    outcome TEXT
);
CREATE INDEX deadlines_due ON deadlines (due_at) WHERE done_at IS NULL;
CREATE INDEX deadlines_appeal ON deadlines (appeal_id) WHERE done_at IS NULL;

-- Messages to people, written in the same transaction as the change that causes them and sent by
-- the dispatcher (retries on 429, honours quiet hours through not_before, never lost).
CREATE TABLE outbox (
    id {pk},
    chat_id BIGINT NOT NULL,
    user_id BIGINT,
    community_id BIGINT,
    appeal_id BIGINT,
    template TEXT NOT NULL,
    params TEXT NOT NULL DEFAULT '{}',
    buttons TEXT NOT NULL DEFAULT '[]',
    copy_from_chat BIGINT,
    copy_message_id BIGINT,
    dedupe_key TEXT UNIQUE,
    not_before BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    claimed_until BIGINT,
    claim_token TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    sent_at BIGINT,
    failed_at BIGINT,
    error TEXT
);
CREATE INDEX outbox_pending ON outbox (not_before) WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX outbox_claim ON outbox (claim_token) WHERE sent_at IS NULL AND failed_at IS NULL;

-- "The next message from this user completes this action" (reply, question, resolution note).
CREATE TABLE pending_actions (
    user_id BIGINT PRIMARY KEY,
    kind TEXT NOT NULL,
    appeal_id BIGINT NOT NULL REFERENCES appeals (id),
    created_at BIGINT NOT NULL
);

-- An appeal being filed (survives restarts: the conversation state lives here, not in memory).
CREATE TABLE drafts (
    user_id BIGINT PRIMARY KEY,
    building_id BIGINT NOT NULL REFERENCES buildings (id),
    unit_id BIGINT REFERENCES units (id),
    category TEXT,
    inbox_id BIGINT,
    created_at BIGINT NOT NULL
);

-- Messages held until the user says what they are for (nothing a user sends is dropped).
CREATE TABLE inbox (
    id {pk},
    user_id BIGINT NOT NULL,
    chat_id BIGINT NOT NULL,
    message_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    text TEXT,
    file_id TEXT,
    created_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX inbox_user ON inbox (user_id, id);
