-- Votes: fixes after the audit of the monthly election.

-- The buildings whose ballot lists each candidate, snapshot at opening: a person heading units in
-- two buildings stands on both ballots (with the unit they head there) and residents of either
-- building may vote for them. Elections opened before this migration list their candidates in the
-- candidate's own building, as they did.
CREATE TABLE election_candidate_buildings (
    election_id BIGINT NOT NULL REFERENCES elections (id),
    user_id BIGINT NOT NULL,
    building_id BIGINT NOT NULL REFERENCES buildings (id),
    unit_id BIGINT REFERENCES units (id),
    unit_name TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (election_id, building_id, user_id)
);
CREATE INDEX election_candidate_buildings_user ON election_candidate_buildings (election_id, user_id);
INSERT INTO election_candidate_buildings (election_id, user_id, building_id, unit_id, unit_name, position)
SELECT c.election_id, c.user_id, c.building_id, c.unit_id, c.unit_name, c.position
FROM election_candidates c JOIN elections e ON e.id = c.election_id WHERE e.state <> 'scheduled';

-- The turnout of every building (voters / registered residents), kept at closing, so /results shows
-- what the closing post said, buildings without candidates included. building_id 0: the community.
CREATE TABLE election_turnout (
    election_id BIGINT NOT NULL REFERENCES elections (id),
    building_id BIGINT NOT NULL,
    voters INTEGER NOT NULL,
    eligible INTEGER NOT NULL,
    PRIMARY KEY (election_id, building_id)
);
INSERT INTO election_turnout (election_id, building_id, voters, eligible)
SELECT election_id, building_id, MAX(voters), MAX(eligible) FROM election_results GROUP BY election_id, building_id;

-- Ballot secrecy: once an election is closed or cancelled a vote row keeps only who took part;
-- building_id (the building of the chosen candidate) is erased too (0).
UPDATE election_votes SET building_id = 0
WHERE election_id IN (SELECT id FROM elections WHERE state IN ('closed', 'cancelled')) AND building_id <> 0;
