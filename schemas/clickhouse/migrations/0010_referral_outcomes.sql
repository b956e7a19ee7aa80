-- referral_outcomes: each referral's funnel stages (queries/referral_outcomes.sql)
-- kept once they are final, so that a funnel over past weeks reads one small
-- row per referral instead of grouping every event of the period by person
-- again (30 days of ten million events: 2.8-4.3 s; docs/benchmarks.md).
--
-- A referral's stages are final when every event within 7 days after it has
-- arrived. Store.Funnel settles whole hours of referrals ("the hour's outcomes")
-- once the hour ended more than 7 days and 10 minutes ago, and reads the newer
-- referrals from events as before (docs/clickhouse.md, "Settled funnel
-- outcomes").
--
-- referral_outcomes holds one row per referral of a settled hour and version;
-- referral_outcome_hours records each hour settled, with its version and when.
-- A reader takes, per hour, the rows of its latest recorded version: rows are
-- written before their hour is recorded, so a version is never read half
-- written, and a settle that ran twice at once counts once.
--
-- An event stored more than 10 minutes after its time (a spool flushed after a
-- Kafka outage, a replay, a sink that was down) may change the stages of the
-- referrals of the 7 days before it: late_event_hours_mv marks its hour, with
-- when, and an hour settled before a mark of its next 7 days is settled again
-- with a new version (the old one is deleted).
--
-- person is cityHash64(platform, account_id, participant_id), as the funnel
-- counts distinct people by it; Erase deletes a person's rows by it.
CREATE TABLE IF NOT EXISTS {{.Database}}.referral_outcomes{{.OnCluster}}
(
    hour         DateTime('UTC'),
    version      UInt64,
    person       UInt64,
    ref          String,
    referral_ms  Int64,
    conversed    UInt8,
    answered     UInt8,
    returned     UInt8
)
ENGINE = {{engine "MergeTree" "referral_outcomes"}}
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, version);

CREATE TABLE IF NOT EXISTS {{.Database}}.referral_outcome_hours{{.OnCluster}}
(
    hour        DateTime('UTC'),
    version     UInt64,
    settled_at  DateTime('UTC')
)
ENGINE = {{engine "MergeTree" "referral_outcome_hours"}}
ORDER BY (hour, version);

CREATE TABLE IF NOT EXISTS {{.Database}}.late_event_hours{{.OnCluster}}
(
    hour       DateTime('UTC'),
    marked_at  DateTime('UTC')
)
ENGINE = {{engine "MergeTree" "late_event_hours"}}
ORDER BY (hour, marked_at);

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.late_event_hours_mv{{.OnCluster}}
TO {{.Database}}.late_event_hours
AS SELECT
    toStartOfHour(toDateTime(intDiv(event_time_ms, 1000), 'UTC')) AS hour,
    now() AS marked_at
FROM {{.Database}}.events
WHERE event_time_ms < (toInt64(toUnixTimestamp(now())) - 600) * 1000
GROUP BY hour;
