-- participants: per participant (platform, account_id, participant_id) the first
-- and the latest referral (ref, source, Unix ms), first seen, and last inbound
-- interaction: what a CRM keeps as "latest referral wins", plus first touch.
--
-- participants_agg holds partial aggregation states, written by participants_mv on
-- every insert into events. Every state is duplicate-proof: min, max, argMin and
-- argMax give the same answer however often an event is counted, so redelivered
-- events change nothing. argMin/argMax compare (event_time_ms, event_id), so ties
-- in time resolve the same way in every merge.
--
-- Read through the participants VIEW, or, to filter by participant before
-- aggregating (18.16 does not push WHERE into views), with the same -Merge
-- expressions on participants_agg (see queries/participant.sql).
--
-- Columns of the view: first_ref, first_source, first_referral_ms (the earliest
-- event carrying a referral), latest_ref, latest_source, latest_referral_ms (the
-- latest; its time is the last referral time), first_seen_ms (earliest event of
-- any kind), last_inbound_ms (latest event from the person: any kind but ECHO; a
-- referral counts). Without a referral the ref columns are '' and the times 0.
CREATE TABLE IF NOT EXISTS {{.Database}}.participants_agg{{.OnCluster}}
(
    platform           String,
    account_id         String,
    participant_id     String,
    first_referral_state   AggregateFunction(argMinIf, Tuple(String, String, Int64), Tuple(Int64, String), UInt8),
    latest_referral_state  AggregateFunction(argMaxIf, Tuple(String, String, Int64), Tuple(Int64, String), UInt8),
    first_seen_state       AggregateFunction(min, Int64),
    last_inbound_state     AggregateFunction(maxIf, Int64, UInt8)
)
ENGINE = {{engine "AggregatingMergeTree" "participants_agg"}}
ORDER BY (platform, account_id, participant_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.participants_mv{{.OnCluster}}
TO {{.Database}}.participants_agg
AS SELECT
    platform,
    account_id,
    participant_id,
    argMinIfState(tuple(ifNull(referral_ref, ''), ifNull(referral_source, ''), event_time_ms), tuple(event_time_ms, event_id), isNotNull(referral_ref)) AS first_referral_state,
    argMaxIfState(tuple(ifNull(referral_ref, ''), ifNull(referral_source, ''), event_time_ms), tuple(event_time_ms, event_id), isNotNull(referral_ref)) AS latest_referral_state,
    minState(event_time_ms) AS first_seen_state,
    maxIfState(event_time_ms, kind != 'ECHO') AS last_inbound_state
FROM {{.Database}}.events
GROUP BY platform, account_id, participant_id;

CREATE VIEW IF NOT EXISTS {{.Database}}.participants{{.OnCluster}}
AS SELECT
    platform,
    account_id,
    participant_id,
    tupleElement(argMinIfMerge(first_referral_state), 1) AS first_ref,
    tupleElement(argMinIfMerge(first_referral_state), 2) AS first_source,
    tupleElement(argMinIfMerge(first_referral_state), 3) AS first_referral_ms,
    tupleElement(argMaxIfMerge(latest_referral_state), 1) AS latest_ref,
    tupleElement(argMaxIfMerge(latest_referral_state), 2) AS latest_source,
    tupleElement(argMaxIfMerge(latest_referral_state), 3) AS latest_referral_ms,
    minMerge(first_seen_state) AS first_seen_ms,
    maxIfMerge(last_inbound_state) AS last_inbound_ms
FROM {{.Database}}.participants_agg
GROUP BY platform, account_id, participant_id;
