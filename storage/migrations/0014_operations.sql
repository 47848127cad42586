-- Operations (issue 10, webops): what several instances of the bot share about running it.

-- Bug reports to the operator chat: one row per error signature (exception type and code location;
-- no personal data). An instance reports a signature only if it wins the conditional upsert on
-- reported_at, so a bug repeated on every instance is reported once per interval; the others count.
CREATE TABLE operator_reports (
    signature TEXT PRIMARY KEY,
    reported_at BIGINT NOT NULL,
    suppressed INTEGER NOT NULL DEFAULT 0
);

-- Small named facts about the installation, e.g. the fingerprint of the webhook registration
-- (Telegram's getWebhookInfo does not return the secret, so a changed secret is detected here).
CREATE TABLE service_state (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
