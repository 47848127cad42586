-- Perks fixes (issue 4 audit).
-- request_key: the confirmation message a redemption was made from ('<chat id>:<message id>'); a
-- second press of the same "Yes" button finds it and redeems nothing. NULL for redemptions made
-- without a button (several NULLs are allowed by a UNIQUE index in SQLite and PostgreSQL alike).
ALTER TABLE redemptions ADD COLUMN request_key TEXT;
CREATE UNIQUE INDEX redemptions_request ON redemptions (request_key);

-- merchant_id: the merchant the perk had when the code was issued; that merchant checks the code
-- even if staff later move the perk to another merchant.
ALTER TABLE redemptions ADD COLUMN merchant_id BIGINT REFERENCES merchants (id);
UPDATE redemptions SET merchant_id = (SELECT p.merchant_id FROM perks p WHERE p.id = redemptions.perk_id);

-- stock_set_after: when staff last set the stock by hand (/perk change, a catalog import), the id of
-- the perk's latest redemption then (0: none yet). A refund of a code redeemed up to that one does not
-- put the item back: staff's count already holds. (Ids order redemptions exactly, moments to the
-- second do not.) NULL: staff never set it.
ALTER TABLE perks ADD COLUMN stock_set_after BIGINT;
