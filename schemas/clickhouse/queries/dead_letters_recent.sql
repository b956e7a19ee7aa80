-- dead_letters_recent: the newest dead letters of a period, without their
-- bytes: what the console's dead letters page lists.
--
-- Parameters: from_ms, to_ms (Int64, Unix ms): raw records received with
-- from_ms <= received_time_ms < to_ms. The caller appends LIMIT (18.16 takes
-- no expression there).
--
-- Result: raw_topic, raw_partition, raw_offset, reason, stage, detail,
-- received_time_ms, header_keys; newest receipt first.
--
-- Never reads payload or header values: they hold the (redacted) webhook and
-- its signature, which no page shows, and the console's ClickHouse user may
-- not select them (deploy/clickhouse/initdb). detail never quotes ids, text or refs
-- (internal/meta). A raw record dead-lettered twice shows once, with its
-- latest reason.
SELECT
    raw_topic,
    raw_partition,
    raw_offset,
    argMax(reason, inserted_at) AS reason,
    argMax(stage, inserted_at) AS stage,
    argMax(detail, inserted_at) AS detail,
    any(received_time_ms) AS received_ms,
    argMax(header_keys, inserted_at) AS keys
FROM dead_letters
WHERE received_time_ms >= {from_ms:Int64} AND received_time_ms < {to_ms:Int64}
    AND received_time >= toDateTime(intDiv({from_ms:Int64}, 1000), 'UTC')
    AND received_time <= toDateTime(intDiv({to_ms:Int64}, 1000), 'UTC')
GROUP BY raw_topic, raw_partition, raw_offset
ORDER BY received_ms DESC, raw_topic, raw_partition, raw_offset DESC
