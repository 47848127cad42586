-- District registry import, heads' invite links, residents' erasure (issue 11 "Bringing a whole
-- district in", "Residents' rights").
-- A building of an imported registry, by name; building_id is set once a building chat of that name
-- is registered in the community (or at once when one exists). units: JSON list of unit names.
CREATE TABLE district_buildings (
    id {pk},
    community_id BIGINT NOT NULL REFERENCES communities (id),
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    building_id BIGINT REFERENCES buildings (id),
    units TEXT NOT NULL DEFAULT '[]',
    imported_at BIGINT NOT NULL,
    UNIQUE (community_id, name_key)
);
CREATE INDEX district_buildings_building ON district_buildings (building_id);

-- A head's post from the registry: unit_name '' is the building head. user_id: the Telegram account
-- linked to it (by its invite link, or a known @username), NULL until then.
CREATE TABLE district_posts (
    id {pk},
    community_id BIGINT NOT NULL REFERENCES communities (id),
    district_building_id BIGINT NOT NULL REFERENCES district_buildings (id),
    unit_name TEXT NOT NULL,
    person_name TEXT NOT NULL,
    username TEXT,
    user_id BIGINT,
    linked_at BIGINT,
    imported_at BIGINT NOT NULL,
    UNIQUE (district_building_id, unit_name)
);
CREATE INDEX district_posts_user ON district_posts (user_id);

-- Personal invite links (/start hi_<token>): only the token's SHA-256 is kept; single use, expiring;
-- a re-import replaces the unused links of a post (replaced_at).
CREATE TABLE district_invites (
    token_hash TEXT PRIMARY KEY,
    post_id BIGINT NOT NULL REFERENCES district_posts (id),
    community_id BIGINT NOT NULL REFERENCES communities (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    used_by BIGINT,
    replaced_at BIGINT
);
CREATE INDEX district_invites_post ON district_invites (post_id);

-- People who asked to be forgotten (/forgetme): when, and nothing else about them.
CREATE TABLE forgotten_people (
    user_id BIGINT PRIMARY KEY,
    forgotten_at BIGINT NOT NULL
);

-- What /mydata reads and /forgetme blanks, found by index (their cost follows the person's own rows,
-- not the history of everyone): the outbox by chat (a person's private chat) and by appeal, votes by
-- voter, the registry's unlinked heads by community.
CREATE INDEX outbox_chat ON outbox (chat_id);
CREATE INDEX outbox_appeal ON outbox (appeal_id) WHERE appeal_id IS NOT NULL;
CREATE INDEX election_votes_voter ON election_votes (voter_id);
CREATE INDEX proposal_votes_by_voter ON proposal_votes (voter_id);
CREATE INDEX district_posts_community ON district_posts (community_id, user_id);
