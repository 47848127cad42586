-- Statistics (issue 11): the rates across months (the chart's lines, the dashboard's trend) read
-- only this index, a range per month, never the table rows.
CREATE INDEX appeal_stats_trend ON appeal_stats (
    community_id, month, first_reply_at, first_reply_due_at, resolved_on_time, resolved_at, resolve_due_at, closed, rating
);
