-- The care list (关爱名单, issue 12): households of a unit that need regular visits. Private: only the
-- unit head, the building head and staff read it, never a group. state: draft (being entered: step
-- label / need / freq / note, by created_by) -> active -> removed. next_due_at: when the next visit
-- is due; cycle: how many due visits were made (a visit earns points once per cycle).
CREATE TABLE care_households (
    id {pk},
    community_id BIGINT NOT NULL REFERENCES communities (id),
    building_id BIGINT NOT NULL REFERENCES buildings (id),
    unit_id BIGINT NOT NULL REFERENCES units (id),
    label TEXT NOT NULL DEFAULT '',
    need TEXT,
    every_days INTEGER,
    note TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    step TEXT,
    created_by BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    next_due_at BIGINT,
    cycle INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX care_one_draft ON care_households (created_by) WHERE state = 'draft';
CREATE INDEX care_unit ON care_households (unit_id, state);
CREATE INDEX care_building ON care_households (building_id, state);
CREATE INDEX care_community ON care_households (community_id, state, next_due_at);

-- The visit log: one row per recorded visit (outcome well / help / away), with the door-knocking
-- round it was made in, if any.
CREATE TABLE care_visits (
    id {pk},
    household_id BIGINT NOT NULL REFERENCES care_households (id),
    community_id BIGINT NOT NULL REFERENCES communities (id),
    visitor_id BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    visited_at BIGINT NOT NULL,
    round_id BIGINT,
    cycle INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX care_visits_household ON care_visits (household_id, id);
CREATE INDEX care_visits_round ON care_visits (round_id, household_id);
CREATE INDEX care_visits_community ON care_visits (community_id, visited_at);

-- Due moments of a household's visit (due: remind the unit head; missed_building / missed_staff:
-- due + 1 / + 2 working days) and of door-knocking rounds (kind round_close), swept idempotently.
CREATE TABLE care_deadlines (
    id {pk},
    household_id BIGINT,
    round_id BIGINT,
    kind TEXT NOT NULL,
    due_for BIGINT,
    due_at BIGINT NOT NULL,
    done_at BIGINT,
    outcome TEXT
);
CREATE INDEX care_deadlines_due ON care_deadlines (due_at) WHERE done_at IS NULL;
CREATE INDEX care_deadlines_household ON care_deadlines (household_id) WHERE done_at IS NULL;

-- Door-knocking rounds (敲门行动): a building's unit heads visit every household of the care list.
CREATE TABLE knock_rounds (
    id {pk},
    community_id BIGINT NOT NULL REFERENCES communities (id),
    building_id BIGINT NOT NULL REFERENCES buildings (id),
    started_by BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    closes_at BIGINT NOT NULL,
    state TEXT NOT NULL,
    households INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX knock_one_open ON knock_rounds (building_id) WHERE state = 'open';
