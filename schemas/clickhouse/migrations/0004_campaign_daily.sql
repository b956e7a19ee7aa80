-- campaign_daily: per business account, ref and UTC day, how many events carried
-- that ref, by source, kind (REFERRAL, MESSAGE, POSTBACK, OPTIN) and thread state
-- (NEW, EXISTING), and how many distinct participants they came from. Only events
-- that carry a referral count; ECHO events never do.
--
-- A SummingMergeTree fed by a materialized view would count a redelivered event
-- twice (the view sees every insert). campaign_daily_agg stores uniqExact states
-- of event_id and participant_id instead: merging them is a set union, so
-- duplicates change nothing and the numbers are exact. The price is memory: a
-- uniqExact state keeps one 128-bit hash per distinct event of the row.
--
-- Read through the campaign_daily VIEW or with uniqExactMerge on
-- campaign_daily_agg (see queries/campaign_daily.sql).
CREATE TABLE IF NOT EXISTS {{.Database}}.campaign_daily_agg{{.OnCluster}}
(
    day               Date,
    platform          String,
    account_id        String,
    ref               String,
    source            String,
    kind              String,
    thread            String,
    events_state        AggregateFunction(uniqExact, String),
    participants_state  AggregateFunction(uniqExact, String)
)
ENGINE = {{engine "AggregatingMergeTree" "campaign_daily_agg"}}
PARTITION BY toYYYYMM(day)
ORDER BY (platform, account_id, ref, day, source, kind, thread);

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.campaign_daily_mv{{.OnCluster}}
TO {{.Database}}.campaign_daily_agg
AS SELECT
    toDate(toDateTime(intDiv(event_time_ms, 1000), 'UTC'), 'UTC') AS day,
    platform,
    account_id,
    assumeNotNull(referral_ref) AS ref,
    ifNull(referral_source, '') AS source,
    kind,
    thread,
    uniqExactState(event_id) AS events_state,
    uniqExactState(participant_id) AS participants_state
FROM {{.Database}}.events
WHERE isNotNull(referral_ref)
GROUP BY day, platform, account_id, ref, source, kind, thread;

CREATE VIEW IF NOT EXISTS {{.Database}}.campaign_daily{{.OnCluster}}
AS SELECT
    day,
    platform,
    account_id,
    ref,
    source,
    kind,
    thread,
    uniqExactMerge(events_state) AS events,
    uniqExactMerge(participants_state) AS participants
FROM {{.Database}}.campaign_daily_agg
GROUP BY day, platform, account_id, ref, source, kind, thread;
