-- Residents (issue 8).
-- A building's own name (set at /register, changed by staff with /buildingname), not the group's title;
-- existing buildings start with their group's title. code: the short code printed on the poster, with
-- which a resident who opens the bot directly finds their building (assigned when first shown).
ALTER TABLE buildings ADD COLUMN name TEXT;
UPDATE buildings SET name = title;
ALTER TABLE buildings ADD COLUMN code TEXT;
CREATE UNIQUE INDEX buildings_code ON buildings (code);

-- People seen in a building's group chat: the buildings a resident belongs to, before they chose a unit.
CREATE TABLE building_members (
    user_id BIGINT NOT NULL,
    building_id BIGINT NOT NULL REFERENCES buildings (id),
    seen_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, building_id)
);

-- A resident who wrote to the bot before it knew their building: their first message (kept in the
-- inbox, it becomes the description), and the last question asked (its reason and wording variant),
-- so the bot never answers with the same words twice in a row.
CREATE TABLE building_lookups (
    user_id BIGINT PRIMARY KEY,
    inbox_id BIGINT,
    last_reason TEXT,
    variant INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

-- Anonymous filing: the heads' card says "anonymous resident" (staff still see the name).
ALTER TABLE appeals ADD COLUMN anonymous INTEGER NOT NULL DEFAULT 0;
ALTER TABLE drafts ADD COLUMN anonymous INTEGER NOT NULL DEFAULT 0;
