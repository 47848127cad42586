-- Points ranks are among the community's current unit and building heads (and anyone else with
-- entries there), people without entries counting as 0: every current head has a balances row,
-- zeros until their first entry (kept in step by RolesRepo.sync_rank_rows whenever a post changes
-- hands). This fills them in for the heads appointed before. updated_at 0: never moved by an entry.
INSERT INTO balances (community_id, user_id, balance, earned, entries, updated_at)
SELECT DISTINCT b.community_id, u.head_user_id, 0, 0, 0, 0
FROM units u JOIN buildings b ON b.id = u.building_id
WHERE b.active = 1 AND u.head_user_id IS NOT NULL
ON CONFLICT (community_id, user_id) DO NOTHING;

INSERT INTO balances (community_id, user_id, balance, earned, entries, updated_at)
SELECT DISTINCT community_id, head_user_id, 0, 0, 0, 0
FROM buildings
WHERE active = 1 AND head_user_id IS NOT NULL
ON CONFLICT (community_id, user_id) DO NOTHING;
