-- dead_letters: what the DLQ topic holds, readable in SQL: one row per raw record
-- that could not be turned into events, with its bytes, headers and the reason.
--
-- Deduplication: the sorting key is the raw record's coordinates (topic,
-- partition, offset), so a DLQ record consumed twice collapses when parts merge;
-- read through FINAL (or GROUP BY the key) for exact counts. received_time comes
-- from the raw record, the same in every copy, so copies share a partition. When
-- the same raw record is dead-lettered again with another reason (a replay after a
-- fix), the last insert wins.
--
-- Headers are kept in order as two parallel arrays (Map does not exist in 18.16);
-- values are Kafka header bytes, stored as String (ClickHouse strings are bytes).
CREATE TABLE IF NOT EXISTS {{.Database}}.dead_letters{{.OnCluster}}
(
    raw_topic          String,
    raw_partition      Int32,
    raw_offset         Int64,
    reason             String,
    stage              String,
    detail             String,
    payload            String,
    header_keys        Array(String),
    header_values      Array(String),
    received_time_ms   Int64,
    received_time      DateTime('UTC') DEFAULT toDateTime(intDiv(received_time_ms, 1000), 'UTC'),
    inserted_at        DateTime('UTC') DEFAULT now()
)
ENGINE = {{engine "ReplacingMergeTree" "dead_letters"}}
PARTITION BY toYYYYMM(received_time)
ORDER BY (raw_topic, raw_partition, raw_offset);
