-- "Me too" and "a major issue goes to the residents" (issue 12).
-- A shared appeal has a public title (agreed by its resident) shown in the building chat with a
-- Me too button, never a name. The partial index serves "an open shared appeal of this category in
-- this building" while filing (a list that must not read history).
ALTER TABLE appeals ADD COLUMN shared_title TEXT;
CREATE INDEX appeals_shared ON appeals (building_id, category, status) WHERE shared_title IS NOT NULL;

-- A resident filing asked to mark their appeal as shared: the flag waits with their draft.
CREATE TABLE metoo_drafts (
    user_id BIGINT PRIMARY KEY,
    created_at BIGINT NOT NULL
);

-- Supporters of a shared appeal: counted once each, told of every step, may rate (1-5 scale).
CREATE TABLE appeal_supporters (
    appeal_id BIGINT NOT NULL REFERENCES appeals (id),
    user_id BIGINT NOT NULL,
    joined_at BIGINT NOT NULL,
    rating INTEGER,
    PRIMARY KEY (appeal_id, user_id)
);

-- A proposal opened from a major appeal ("Put to the residents"): its outcome goes into the
-- appeal's history.
ALTER TABLE proposals ADD COLUMN appeal_id BIGINT;
CREATE INDEX proposals_appeal ON proposals (appeal_id) WHERE appeal_id IS NOT NULL;
