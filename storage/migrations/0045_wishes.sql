-- Micro-wishes (issue 12): a resident's small wish, posted in their building chat, taken on by a
-- volunteer, confirmed fulfilled by the resident. state: draft (being written: step what / when /
-- name) -> open -> claimed -> fulfilled; or cancelled / expired. The claim is a guarded UPDATE
-- (state = 'open'): of two volunteers pressing at once exactly one wins.
CREATE TABLE wishes (
    id {pk},
    community_id BIGINT NOT NULL REFERENCES communities (id),
    building_id BIGINT NOT NULL REFERENCES buildings (id),
    unit_id BIGINT REFERENCES units (id),
    resident_id BIGINT NOT NULL,
    state TEXT NOT NULL,
    step TEXT,
    body TEXT NOT NULL DEFAULT '',
    media_kind TEXT,
    media_chat BIGINT,
    media_message BIGINT,
    show_name INTEGER NOT NULL DEFAULT 0,
    wanted_by BIGINT,
    volunteer_id BIGINT,
    created_at BIGINT NOT NULL,
    posted_at BIGINT,
    claimed_at BIGINT,
    closed_at BIGINT
);
CREATE UNIQUE INDEX wishes_one_draft ON wishes (resident_id) WHERE state = 'draft';
CREATE INDEX wishes_building_state ON wishes (building_id, state, id);
CREATE INDEX wishes_community_state ON wishes (community_id, state);
CREATE INDEX wishes_resident ON wishes (resident_id, state);
CREATE INDEX wishes_volunteer ON wishes (volunteer_id, state);

-- Due moments of a wish (re-show in the building chat, tell the unit head, expire): rows the sweep
-- finishes idempotently (done_at), read through the partial index on what is not done.
CREATE TABLE wish_deadlines (
    id {pk},
    wish_id BIGINT NOT NULL REFERENCES wishes (id),
    kind TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    done_at BIGINT,
    outcome TEXT
);
CREATE INDEX wish_deadlines_due ON wish_deadlines (due_at) WHERE done_at IS NULL;
CREATE INDEX wish_deadlines_wish ON wish_deadlines (wish_id);

-- Who is writing a message to pass on about a wish (their next private message is relayed).
CREATE TABLE wish_writers (
    user_id BIGINT PRIMARY KEY,
    wish_id BIGINT NOT NULL REFERENCES wishes (id),
    since BIGINT NOT NULL
);
