-- Votes: the monthly "best unit head" election, the yearly title, and residents' proposals.
-- Moments are integer epoch seconds (UTC). Ballots are secret: while an election (proposal) is open
-- a vote row links voter and choice (needed to allow one changeable vote per person); when it
-- closes the counts are stored and the link is erased (choice set to NULL), keeping only who took
-- part (turnout audit).

-- One election per community and month. state: scheduled -> open -> closed, or cancelled / missed.
-- Transitions are guarded updates (UPDATE ... WHERE state = 'scheduled'), so they happen once.
CREATE TABLE elections (
    id {pk},
    community_id BIGINT NOT NULL REFERENCES communities (id),
    period TEXT NOT NULL,
    state TEXT NOT NULL,
    opens_at BIGINT NOT NULL,
    closes_at BIGINT NOT NULL,
    top_n INTEGER NOT NULL,
    scope TEXT NOT NULL,
    shortlisted INTEGER NOT NULL DEFAULT 0,
    repost_seq INTEGER NOT NULL DEFAULT 0,
    note TEXT,
    opened_at BIGINT,
    closed_at BIGINT,
    created_at BIGINT NOT NULL,
    UNIQUE (community_id, period)
);
CREATE INDEX elections_state ON elections (state, opens_at);

-- Candidates, snapshot at opening (unit heads) or nominated by staff before it; removed_at marks a
-- candidate taken off the ballot while the election runs (their votes stop counting).
CREATE TABLE election_candidates (
    election_id BIGINT NOT NULL REFERENCES elections (id),
    user_id BIGINT NOT NULL,
    unit_id BIGINT REFERENCES units (id),
    building_id BIGINT NOT NULL REFERENCES buildings (id),
    unit_name TEXT NOT NULL,
    display TEXT NOT NULL,
    position INTEGER NOT NULL,
    source TEXT NOT NULL,
    removed_at BIGINT,
    PRIMARY KEY (election_id, user_id)
);
CREATE INDEX election_candidates_building ON election_candidates (election_id, building_id, position);

-- One row per voter and election (changeable until closing). building_id is the voter's building.
CREATE TABLE election_votes (
    election_id BIGINT NOT NULL REFERENCES elections (id),
    voter_id BIGINT NOT NULL,
    building_id BIGINT NOT NULL,
    candidate_id BIGINT,
    cast_at BIGINT NOT NULL,
    changed_at BIGINT NOT NULL,
    PRIMARY KEY (election_id, voter_id)
);
-- Covering index for the tally (GROUP BY building, candidate: one ordered pass, no table lookups)
-- and for turnout per building.
CREATE INDEX election_votes_tally ON election_votes (election_id, building_id, candidate_id, changed_at);

-- Counts kept at closing: building_id 0 is the whole community. Ties share a rank.
CREATE TABLE election_results (
    election_id BIGINT NOT NULL REFERENCES elections (id),
    building_id BIGINT NOT NULL,
    candidate_id BIGINT NOT NULL,
    votes INTEGER NOT NULL,
    rank INTEGER NOT NULL,
    voters INTEGER NOT NULL,
    eligible INTEGER NOT NULL,
    PRIMARY KEY (election_id, building_id, candidate_id)
);

-- Awards (the points work turns them into points). kind: monthly_best | yearly_title.
CREATE TABLE awards (
    id {pk},
    community_id BIGINT NOT NULL REFERENCES communities (id),
    user_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    period TEXT NOT NULL,
    rank INTEGER NOT NULL,
    votes INTEGER NOT NULL,
    election_id BIGINT REFERENCES elections (id),
    created_at BIGINT NOT NULL,
    UNIQUE (community_id, kind, period, user_id)
);
CREATE INDEX awards_user ON awards (user_id, kind);

-- The yearly title is decided once per community and year (this row is the claim).
CREATE TABLE yearly_titles (
    community_id BIGINT NOT NULL REFERENCES communities (id),
    year INTEGER NOT NULL,
    rule TEXT NOT NULL,
    winners INTEGER NOT NULL,
    decided_at BIGINT NOT NULL,
    PRIMARY KEY (community_id, year)
);

-- Residents' proposals, one row per building (a community-wide proposal is one row per building
-- sharing batch). options: JSON list; custom 0 means the default yes / no / abstain.
-- mode: per_resident | per_unit. state: open -> closed, or cancelled.
CREATE TABLE proposals (
    id {pk},
    community_id BIGINT NOT NULL REFERENCES communities (id),
    building_id BIGINT NOT NULL REFERENCES buildings (id),
    batch TEXT NOT NULL,
    question TEXT NOT NULL,
    options TEXT NOT NULL,
    custom INTEGER NOT NULL,
    mode TEXT NOT NULL,
    quorum_pct INTEGER NOT NULL,
    state TEXT NOT NULL,
    opened_by BIGINT NOT NULL,
    opened_at BIGINT NOT NULL,
    closes_at BIGINT NOT NULL,
    closed_at BIGINT
);
CREATE INDEX proposals_state ON proposals (state, closes_at);
CREATE INDEX proposals_building ON proposals (building_id, state);

-- ballot_key: 'r<user id>' (one vote per resident) or 'u<unit id>' (one vote per unit).
CREATE TABLE proposal_votes (
    proposal_id BIGINT NOT NULL REFERENCES proposals (id),
    ballot_key TEXT NOT NULL,
    voter_id BIGINT NOT NULL,
    unit_id BIGINT NOT NULL,
    option_index INTEGER,
    cast_at BIGINT NOT NULL,
    changed_at BIGINT NOT NULL,
    PRIMARY KEY (proposal_id, ballot_key)
);
CREATE INDEX proposal_votes_tally ON proposal_votes (proposal_id, option_index);
CREATE INDEX proposal_votes_voter ON proposal_votes (proposal_id, voter_id);

-- The building's history of decisions (one row per closed proposal).
-- outcome: adopted | rejected | chosen | tie | no_quorum.
CREATE TABLE building_decisions (
    id {pk},
    building_id BIGINT NOT NULL REFERENCES buildings (id),
    proposal_id BIGINT NOT NULL UNIQUE REFERENCES proposals (id),
    question TEXT NOT NULL,
    outcome TEXT NOT NULL,
    winner_option INTEGER,
    counts TEXT NOT NULL,
    voters INTEGER NOT NULL,
    eligible INTEGER NOT NULL,
    households_voted INTEGER NOT NULL,
    households INTEGER NOT NULL,
    quorum_pct INTEGER NOT NULL,
    quorum_met INTEGER NOT NULL,
    decided_at BIGINT NOT NULL
);
CREATE INDEX building_decisions_building ON building_decisions (building_id, decided_at);

-- Registered residents and households per building (turnout, eligibility, quorum).
CREATE INDEX votes_residents_building ON residents (building_id, unit_id, user_id);
