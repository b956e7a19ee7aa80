-- dead_letter_counts: dead letters per reason and stage, for the raw records
-- received in a period.
--
-- Parameters: from_ms, to_ms (Int64, Unix ms): raw records received with
-- from_ms <= received_time_ms < to_ms.
--
-- Result: reason, stage, dead_letters; by reason then stage.
--
-- Exact with duplicates: a raw record (topic, partition, offset) counts once,
-- with the reason and stage of its latest insert (a replay after a fix may
-- dead-letter it again for another reason).
SELECT
    reason,
    stage,
    count() AS dead_letters
FROM
(
    SELECT
        raw_topic,
        raw_partition,
        raw_offset,
        argMax(reason, inserted_at) AS reason,
        argMax(stage, inserted_at) AS stage
    FROM dead_letters
    WHERE received_time_ms >= {from_ms:Int64} AND received_time_ms < {to_ms:Int64}
        AND received_time >= toDateTime(intDiv({from_ms:Int64}, 1000), 'UTC')
        AND received_time <= toDateTime(intDiv({to_ms:Int64}, 1000), 'UTC')
    GROUP BY raw_topic, raw_partition, raw_offset
)
GROUP BY reason, stage
ORDER BY reason, stage
