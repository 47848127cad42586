-- The staff dashboard (issue 11): its appeal list reads the newest appeals of a scope page by page
-- (keyset: id < last seen), and an appeal's timeline reads all its deadlines, done or not. Without
-- these, both would read every appeal (deadline) of the community once the history is long.
CREATE INDEX appeals_community_recent ON appeals (community_id, id);
CREATE INDEX appeals_building_recent ON appeals (building_id, id);
CREATE INDEX appeals_unit_recent ON appeals (unit_id, id);
CREATE INDEX deadlines_appeal_all ON deadlines (appeal_id, due_at);
