-- The statistics of the care list and micro-wishes (issue 12, docs/stats.md): each read is one index
-- range of a community's period.
-- A household's due moments by the visit they belong to (the partial care_deadlines_household
-- covers only what is not done; the figures read the finished rows too).
CREATE INDEX care_deadlines_household_due ON care_deadlines (household_id, due_for);
-- Door-knocking rounds started in a period.
CREATE INDEX knock_rounds_community_started ON knock_rounds (community_id, started_at);
-- Wishes posted in a period.
CREATE INDEX wishes_community_posted ON wishes (community_id, posted_at);
