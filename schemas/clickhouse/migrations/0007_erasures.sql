-- erasures: one row per erasure of a person's data (reftrailctl erase), the
-- record an operator shows when asked what was deleted, when and on whose
-- request. It names the person erased, which is what such a record must say;
-- it holds nothing else about them.
--
-- tables and rows_removed are parallel arrays (Map does not exist in 18.16):
-- the rows removed from each table as stored (copies of an event not yet
-- merged count each). rows_rebuilt counts the aggregate rows written again
-- from the events that remain (campaign_daily_agg). request links an erasure
-- to the data deletion request that caused it (its confirmation code), ''
-- otherwise.
CREATE TABLE IF NOT EXISTS {{.Database}}.erasures{{.OnCluster}}
(
    erased_at       DateTime('UTC'),
    platform        String,
    account_id      String,
    participant_id  String,
    tables          Array(String),
    rows_removed    Array(UInt64),
    rows_rebuilt    UInt64,
    requested_by    String,
    request         String
)
ENGINE = {{engine "MergeTree" "erasures"}}
PARTITION BY toYYYYMM(erased_at)
ORDER BY (erased_at, platform, account_id, participant_id);
