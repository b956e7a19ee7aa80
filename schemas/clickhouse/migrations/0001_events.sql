-- events: the full history, one row per reftrail.ReferralEvent, every Avro field
-- flattened into a column of the same name (referral.ads_context.ad_title becomes
-- ads_context_ad_title).
--
-- Deduplication: Kafka delivers at least once and Meta redelivers, so the same
-- event_id can be inserted several times. ReplacingMergeTree keeps one row per
-- sorting key when it merges parts; the sorting key therefore ends in event_id and
-- every column before it (the participant) is a function of event_id, so that
-- copies of an event always share a key and a partition (event_time is Meta's,
-- the same in every copy). Merges happen whenever ClickHouse decides: queries
-- never rely on them and deduplicate themselves (uniqExact(event_id), GROUP BY
-- event_id, or FINAL). Copies differ only in lineage (received_time, raw_partition,
-- raw_offset, inserted_at). So that results do not change when parts merge, the
-- copy that survives is the one queries pick: the first receipt (least
-- received_time_ms), then the first insert (least inserted_at). dedup_version
-- encodes that order, greater for earlier copies, as the version column of the
-- engine (which keeps the greatest); queries pick with argMax(x, dedup_version).
-- It counts insert delays up to 999999 s (11 days); later re-inserts tie.
--
-- The sort key starts with the participant (platform, account_id, participant_id)
-- because the per-participant reads (history, funnel joins) look participants up;
-- time ranges are served by the monthly partitions.
--
-- Nullability: a column is Nullable exactly when its Avro field is nullable or
-- belongs to a nullable record, so NULL and '' stay distinct and an event reads
-- back as it was written. referral_ref, referral_source and referral_type are
-- NULL exactly when the event carries no referral (Meta's missing ref is ''),
-- optin_type likewise for the opt-in. An ads_context whose fields are all null is
-- indistinguishable from no ads_context.
--
-- Times keep milliseconds without DateTime64 (ClickHouse 18.16 has none): the
-- exact Unix ms in *_ms, and a DateTime('UTC') computed from it for filters and
-- partition pruning. Writers send the *_ms columns only.
CREATE TABLE IF NOT EXISTS {{.Database}}.events{{.OnCluster}}
(
    event_id                 String,
    platform                 String,
    kind                     String,
    account_id               String,
    participant_id           String,
    event_time_ms            Int64,
    event_time               DateTime('UTC') DEFAULT toDateTime(intDiv(event_time_ms, 1000), 'UTC'),
    received_time_ms         Int64,
    received_time            DateTime('UTC') DEFAULT toDateTime(intDiv(received_time_ms, 1000), 'UTC'),
    thread                   String,
    referral_ref             Nullable(String),
    referral_source          Nullable(String),
    referral_type            Nullable(String),
    referral_ad_id           Nullable(String),
    referral_referer_uri     Nullable(String),
    ads_context_ad_title     Nullable(String),
    ads_context_photo_url    Nullable(String),
    ads_context_video_url    Nullable(String),
    ads_context_post_id      Nullable(String),
    ads_context_product_id   Nullable(String),
    ads_context_flow_id      Nullable(String),
    message_id               Nullable(String),
    postback_title           Nullable(String),
    postback_payload         Nullable(String),
    optin_type               Nullable(String),
    optin_topic              Nullable(String),
    optin_frequency          Nullable(String),
    optin_status             Nullable(String),
    raw_partition            Int32,
    raw_offset               Int64,
    inserted_at              DateTime('UTC') DEFAULT now(),
    dedup_version            UInt64 MATERIALIZED 18446744073709551615
        - (toUInt64(received_time_ms) * 1000000
           + toUInt64(least(greatest(toInt64(toUInt32(inserted_at)) - intDiv(received_time_ms, 1000), 0), 999999)))
)
ENGINE = {{engine "ReplacingMergeTree" "events" "dedup_version"}}
PARTITION BY toYYYYMM(event_time)
ORDER BY (platform, account_id, participant_id, event_id);
