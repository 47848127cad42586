-- Points: an append-only ledger per person and community, balances and monthly totals kept in the
-- same transaction as each entry, the perks catalog, redemption codes and installation secrets.
-- Moments are integer epoch seconds (UTC); months are 'YYYY-MM' in the community's time zone.

-- Append-only: rows are inserted, never updated or deleted (a correction is a new entry).
-- cause_key makes every rule fire once per cause ('first_reply:appeal:12', 'redeem:7', ...).
-- ranked = 1 when the entry counts towards the leaderboards (work done); spending on perks and its
-- refunds move the balance only.
CREATE TABLE ledger (
    id {pk},
    community_id BIGINT NOT NULL REFERENCES communities (id),
    user_id BIGINT NOT NULL,
    amount INTEGER NOT NULL,
    reason TEXT NOT NULL,
    ref_type TEXT,
    ref_id BIGINT,
    cause_key TEXT NOT NULL UNIQUE,
    actor_id BIGINT,
    note TEXT,
    month TEXT NOT NULL,
    ranked INTEGER NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL
);
CREATE INDEX ledger_person ON ledger (community_id, user_id, id);

-- balance = SUM(ledger.amount); earned = SUM(ledger.amount) of ranked entries (both per person and
-- community), maintained by the statement that appends the entry, in its transaction.
CREATE TABLE balances (
    community_id BIGINT NOT NULL REFERENCES communities (id),
    user_id BIGINT NOT NULL,
    balance INTEGER NOT NULL DEFAULT 0,
    earned INTEGER NOT NULL DEFAULT 0,
    entries INTEGER NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (community_id, user_id)
);
CREATE INDEX balances_rank ON balances (community_id, earned);

-- points = SUM(ledger.amount) of ranked entries of that month.
CREATE TABLE monthly_points (
    community_id BIGINT NOT NULL REFERENCES communities (id),
    month TEXT NOT NULL,
    user_id BIGINT NOT NULL,
    points INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (community_id, month, user_id)
);
CREATE INDEX monthly_points_rank ON monthly_points (community_id, month, points);

CREATE TABLE perk_categories (
    id {pk},
    community_id BIGINT NOT NULL REFERENCES communities (id),
    name TEXT NOT NULL,
    position INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    UNIQUE (community_id, name)
);

-- Merchants are Telegram users (they check codes in their private chat with the bot).
CREATE TABLE merchants (
    id {pk},
    community_id BIGINT NOT NULL REFERENCES communities (id),
    user_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    created_by BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (community_id, user_id)
);
CREATE INDEX merchants_user ON merchants (user_id);

-- cost 0: a status perk (the ID card is enough); valid_until: first moment it is no longer valid;
-- stock NULL: unlimited; per_person_limit NULL: no limit.
CREATE TABLE perks (
    id {pk},
    community_id BIGINT NOT NULL REFERENCES communities (id),
    category_id BIGINT NOT NULL REFERENCES perk_categories (id),
    merchant_id BIGINT NOT NULL REFERENCES merchants (id),
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT '',
    cost INTEGER NOT NULL,
    valid_until BIGINT,
    stock INTEGER,
    per_person_limit INTEGER,
    retired_at BIGINT,
    created_by BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX perks_catalog ON perks (community_id, category_id) WHERE retired_at IS NULL;
CREATE INDEX perks_merchant ON perks (merchant_id);

-- One row per redemption; the one-time code itself is never stored, only its SHA-256.
CREATE TABLE redemptions (
    id {pk},
    community_id BIGINT NOT NULL REFERENCES communities (id),
    perk_id BIGINT NOT NULL REFERENCES perks (id),
    user_id BIGINT NOT NULL,
    cost INTEGER NOT NULL,
    code_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    used_by BIGINT,
    refunded_at BIGINT
);
CREATE INDEX redemptions_person ON redemptions (user_id, perk_id);
CREATE INDEX redemptions_expiring ON redemptions (expires_at) WHERE used_at IS NULL AND refunded_at IS NULL;

-- Per-installation random secrets (the ID card's signing key), created on first use.
CREATE TABLE secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
