-- attribution: new conversations per ref, credited first-touch and last-touch.
--
-- Parameters: from_ms, to_ms (Int64, Unix ms): conversations that start with
-- from_ms <= start < to_ms.
--
-- A conversation starts with a MESSAGE or POSTBACK from the person that no other
-- MESSAGE or POSTBACK of theirs precedes by 24 h or less (events at the same
-- millisecond are ordered by event_id). First touch credits the person's
-- earliest referral at or before the start, last touch their latest one ("latest
-- referral wins"); both look back without limit, and a referral inside the
-- starting message itself counts. A conversation with no referral before it is
-- credited to ref ''.
--
-- Result: one row per (platform, account_id, ref) credited either way, ordered
-- by them: first_touch, last_touch. Each column sums to the number of new
-- conversations.
--
-- Exact with duplicate event_ids: both sides of each join are DISTINCT on
-- (participant, event_id, time), which copies of an event share.
SELECT
    platform,
    account_id,
    ref,
    sum(is_first) AS first_touch,
    sum(is_last) AS last_touch
FROM
(
    SELECT
        platform,
        account_id,
        arrayJoin([tuple(first_ref, 1, 0), tuple(last_ref, 0, 1)]) AS credit,
        tupleElement(credit, 1) AS ref,
        tupleElement(credit, 2) AS is_first,
        tupleElement(credit, 3) AS is_last
    FROM
    (
        SELECT
            platform,
            account_id,
            participant_id,
            start_id,
            argMinIf(r_ref, tuple(r_ms, r_id), has_r AND r_ms <= start_ms) AS first_ref,
            argMaxIf(r_ref, tuple(r_ms, r_id), has_r AND r_ms <= start_ms) AS last_ref
        FROM
        (
            SELECT platform, account_id, participant_id, start_id, start_ms
            FROM
            (
                SELECT DISTINCT
                    platform,
                    account_id,
                    participant_id,
                    event_id AS start_id,
                    event_time_ms AS start_ms
                FROM events
                WHERE kind IN ('MESSAGE', 'POSTBACK')
                    AND event_time_ms >= {from_ms:Int64} AND event_time_ms < {to_ms:Int64}
                    AND event_time >= toDateTime(intDiv({from_ms:Int64}, 1000), 'UTC')
                    AND event_time <= toDateTime(intDiv({to_ms:Int64}, 1000), 'UTC')
            )
            ALL INNER JOIN
            (
                SELECT DISTINCT
                    platform,
                    account_id,
                    participant_id,
                    event_id AS prev_id,
                    event_time_ms AS prev_ms
                FROM events
                WHERE kind IN ('MESSAGE', 'POSTBACK')
                    AND event_time_ms >= {from_ms:Int64} - 86400000 AND event_time_ms < {to_ms:Int64}
                    AND event_time >= toDateTime(intDiv({from_ms:Int64} - 86400000, 1000), 'UTC')
                    AND event_time <= toDateTime(intDiv({to_ms:Int64}, 1000), 'UTC')
            ) USING (platform, account_id, participant_id)
            GROUP BY platform, account_id, participant_id, start_id, start_ms
            HAVING max(prev_ms >= start_ms - 86400000 AND (prev_ms < start_ms OR (prev_ms = start_ms AND prev_id < start_id))) = 0
        )
        ALL LEFT JOIN
        (
            SELECT DISTINCT
                platform,
                account_id,
                participant_id,
                event_id AS r_id,
                assumeNotNull(referral_ref) AS r_ref,
                event_time_ms AS r_ms,
                toUInt8(1) AS has_r
            FROM events
            WHERE isNotNull(referral_ref)
                AND event_time_ms < {to_ms:Int64}
                AND event_time <= toDateTime(intDiv({to_ms:Int64}, 1000), 'UTC')
        ) USING (platform, account_id, participant_id)
        GROUP BY platform, account_id, participant_id, start_id
    )
)
GROUP BY platform, account_id, ref
ORDER BY platform, account_id, ref
