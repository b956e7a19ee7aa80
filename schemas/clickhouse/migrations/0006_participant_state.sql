-- participant_state and message_windows replace participants_agg: per
-- participant what a lookup needs (first and latest referral with type and ad
-- id, first seen, last inbound, the messaging window, the marketing opt-in), and
-- per inbound event the window it opens, sorted by expiry so that "who may be
-- messaged now" reads only the windows still open.
--
-- Rules (docs/clickhouse.md, "Messaging windows"):
--   inbound:    any event from the person (MESSAGE, POSTBACK, REFERRAL, OPTIN)
--               but an ECHO and an opt-out (optin_status STOP; rows written
--               before statuses were normalised say STOP NOTIFICATIONS, hence
--               startsWith): a person who opts out has not asked to be written to;
--   standard:   a window of 24 h from an inbound event;
--   ad:         a window of 7 days from a MESSAGE or POSTBACK carrying a
--               click-to-message ad's referral (source ADS, or an ad_id): the
--               person's first message from the ad;
--   marketing:  the latest notification_messages opt-in's status: STOP stops
--               marketing messages, any other opts in (or back in).
--
-- participant_state also keeps the person's referral history (every event
-- that carried a referral, as a set of tuples), so that a lookup reads one
-- small granule (index_granularity 256: its states are large) instead of
-- events FINAL, whose granules of 8,192 rows made a lookup take a second on
-- ten million events.
--
-- Every state is duplicate-proof (min, max, argMin, argMax over (time,
-- event_id), a set), and message_windows is a ReplacingMergeTree whose rows are a
-- function of the event, so redelivered events change no answer.
--
-- The old participants_agg aggregated the whole table for every open-windows
-- read, and its last_inbound counted opt-outs; it is dropped with its view,
-- which is recreated over participant_state with the same columns first.
-- Existing events are backfilled after the new materialized views exist, so
-- that no insert falls between the two; events inserted meanwhile are counted
-- twice, which the states absorb. On a sharded cluster the backfill covers the
-- shard of the server Migrate talks to: run it on each shard (see
-- docs/clickhouse.md).
ALTER TABLE {{.Database}}.events{{.OnCluster}} ADD COLUMN optin_title Nullable(String) AFTER optin_status;

CREATE TABLE IF NOT EXISTS {{.Database}}.participant_state{{.OnCluster}}
(
    platform               String,
    account_id             String,
    participant_id         String,
    first_referral_state   AggregateFunction(argMinIf, Tuple(String, String, String, String, Int64), Tuple(Int64, String), UInt8),
    latest_referral_state  AggregateFunction(argMaxIf, Tuple(String, String, String, String, Int64), Tuple(Int64, String), UInt8),
    first_seen_state       AggregateFunction(min, Int64),
    last_inbound_state     AggregateFunction(maxIf, Int64, UInt8),
    last_ad_message_state  AggregateFunction(maxIf, Int64, UInt8),
    marketing_state        AggregateFunction(argMaxIf, String, Tuple(Int64, String), UInt8),
    history_state          AggregateFunction(groupUniqArrayIf, Tuple(Int64, String, String, String, String, String, String, String, String), UInt8)
)
ENGINE = {{engine "AggregatingMergeTree" "participant_state"}}
ORDER BY (platform, account_id, participant_id)
SETTINGS index_granularity = 256;

CREATE TABLE IF NOT EXISTS {{.Database}}.message_windows{{.OnCluster}}
(
    platform        String,
    account_id      String,
    participant_id  String,
    opened_ms       Int64,
    expires_ms      Int64,
    window_kind     String
)
ENGINE = {{engine "ReplacingMergeTree" "message_windows"}}
PARTITION BY toYYYYMM(toDateTime(intDiv(expires_ms, 1000), 'UTC'))
ORDER BY (platform, account_id, expires_ms, participant_id, window_kind);

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.participant_state_mv{{.OnCluster}}
TO {{.Database}}.participant_state
AS SELECT
    platform,
    account_id,
    participant_id,
    argMinIfState(tuple(ifNull(referral_ref, ''), ifNull(referral_source, ''), ifNull(referral_type, ''), ifNull(referral_ad_id, ''), event_time_ms), tuple(event_time_ms, event_id), isNotNull(referral_ref)) AS first_referral_state,
    argMaxIfState(tuple(ifNull(referral_ref, ''), ifNull(referral_source, ''), ifNull(referral_type, ''), ifNull(referral_ad_id, ''), event_time_ms), tuple(event_time_ms, event_id), isNotNull(referral_ref)) AS latest_referral_state,
    minState(event_time_ms) AS first_seen_state,
    maxIfState(event_time_ms, kind != 'ECHO' AND NOT startsWith(upper(ifNull(optin_status, '')), 'STOP')) AS last_inbound_state,
    maxIfState(event_time_ms, kind IN ('MESSAGE', 'POSTBACK') AND (ifNull(referral_source, '') = 'ADS' OR isNotNull(referral_ad_id))) AS last_ad_message_state,
    argMaxIfState(if(startsWith(upper(ifNull(optin_status, '')), 'STOP'), 'STOP', 'IN'), tuple(event_time_ms, event_id), kind = 'OPTIN' AND ifNull(optin_type, '') = 'notification_messages') AS marketing_state,
    groupUniqArrayIfState(tuple(event_time_ms, event_id, kind, thread, ifNull(referral_ref, ''), ifNull(referral_source, ''), ifNull(referral_type, ''), ifNull(referral_ad_id, ''), ifNull(referral_referer_uri, '')), isNotNull(referral_ref)) AS history_state
FROM {{.Database}}.events
GROUP BY platform, account_id, participant_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.message_windows_mv{{.OnCluster}}
TO {{.Database}}.message_windows
AS SELECT
    platform,
    account_id,
    participant_id,
    event_time_ms AS opened_ms,
    event_time_ms + if(kind IN ('MESSAGE', 'POSTBACK') AND (ifNull(referral_source, '') = 'ADS' OR isNotNull(referral_ad_id)), 604800000, 86400000) AS expires_ms,
    if(kind IN ('MESSAGE', 'POSTBACK') AND (ifNull(referral_source, '') = 'ADS' OR isNotNull(referral_ad_id)), 'ad', 'standard') AS window_kind
FROM {{.Database}}.events
WHERE kind != 'ECHO' AND NOT startsWith(upper(ifNull(optin_status, '')), 'STOP');

DROP TABLE IF EXISTS {{.Database}}.participants_mv{{.OnCluster}};

DROP TABLE IF EXISTS {{.Database}}.participants{{.OnCluster}};

DROP TABLE IF EXISTS {{.Database}}.participants_agg{{.OnCluster}};

CREATE VIEW IF NOT EXISTS {{.Database}}.participants{{.OnCluster}}
AS SELECT
    platform,
    account_id,
    participant_id,
    tupleElement(argMinIfMerge(first_referral_state), 1) AS first_ref,
    tupleElement(argMinIfMerge(first_referral_state), 2) AS first_source,
    tupleElement(argMinIfMerge(first_referral_state), 5) AS first_referral_ms,
    tupleElement(argMaxIfMerge(latest_referral_state), 1) AS latest_ref,
    tupleElement(argMaxIfMerge(latest_referral_state), 2) AS latest_source,
    tupleElement(argMaxIfMerge(latest_referral_state), 5) AS latest_referral_ms,
    minMerge(first_seen_state) AS first_seen_ms,
    maxIfMerge(last_inbound_state) AS last_inbound_ms,
    tupleElement(argMinIfMerge(first_referral_state), 3) AS first_type,
    tupleElement(argMinIfMerge(first_referral_state), 4) AS first_ad_id,
    tupleElement(argMaxIfMerge(latest_referral_state), 3) AS latest_type,
    tupleElement(argMaxIfMerge(latest_referral_state), 4) AS latest_ad_id,
    maxIfMerge(last_ad_message_state) AS last_ad_message_ms,
    argMaxIfMerge(marketing_state) AS marketing
FROM {{.Database}}.participant_state
GROUP BY platform, account_id, participant_id;

INSERT INTO {{.Database}}.participant_state (platform, account_id, participant_id, first_referral_state, latest_referral_state, first_seen_state, last_inbound_state, last_ad_message_state, marketing_state, history_state)
SELECT
    platform,
    account_id,
    participant_id,
    argMinIfState(tuple(ifNull(referral_ref, ''), ifNull(referral_source, ''), ifNull(referral_type, ''), ifNull(referral_ad_id, ''), event_time_ms), tuple(event_time_ms, event_id), isNotNull(referral_ref)),
    argMaxIfState(tuple(ifNull(referral_ref, ''), ifNull(referral_source, ''), ifNull(referral_type, ''), ifNull(referral_ad_id, ''), event_time_ms), tuple(event_time_ms, event_id), isNotNull(referral_ref)),
    minState(event_time_ms),
    maxIfState(event_time_ms, kind != 'ECHO' AND NOT startsWith(upper(ifNull(optin_status, '')), 'STOP')),
    maxIfState(event_time_ms, kind IN ('MESSAGE', 'POSTBACK') AND (ifNull(referral_source, '') = 'ADS' OR isNotNull(referral_ad_id))),
    argMaxIfState(if(startsWith(upper(ifNull(optin_status, '')), 'STOP'), 'STOP', 'IN'), tuple(event_time_ms, event_id), kind = 'OPTIN' AND ifNull(optin_type, '') = 'notification_messages'),
    groupUniqArrayIfState(tuple(event_time_ms, event_id, kind, thread, ifNull(referral_ref, ''), ifNull(referral_source, ''), ifNull(referral_type, ''), ifNull(referral_ad_id, ''), ifNull(referral_referer_uri, '')), isNotNull(referral_ref))
FROM {{.Database}}.events
GROUP BY platform, account_id, participant_id;

INSERT INTO {{.Database}}.message_windows (platform, account_id, participant_id, opened_ms, expires_ms, window_kind)
SELECT
    platform,
    account_id,
    participant_id,
    event_time_ms,
    event_time_ms + if(kind IN ('MESSAGE', 'POSTBACK') AND (ifNull(referral_source, '') = 'ADS' OR isNotNull(referral_ad_id)), 604800000, 86400000),
    if(kind IN ('MESSAGE', 'POSTBACK') AND (ifNull(referral_source, '') = 'ADS' OR isNotNull(referral_ad_id)), 'ad', 'standard')
FROM {{.Database}}.events
WHERE kind != 'ECHO' AND NOT startsWith(upper(ifNull(optin_status, '')), 'STOP');
