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
-- Exact with duplicate event_ids: a person's messages and postbacks and their
-- referrals are made distinct on (time, event_id), which copies of an event
-- share.
--
-- Cost: one pass over the events before to_ms, keeping every referral (the
-- look back has no limit) and the messages and postbacks from 24 h before
-- from_ms, grouped by person; each person's starts are found and credited
-- within their arrays. Two joins of those events, as this query did first,
-- took four times as long on ten million events (docs/benchmarks.md), with
-- the same result. Memory: the arrays of every person who wrote in the period.
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
            arrayFilter(r -> tupleElement(r, 1) <= tupleElement(start, 1), refs) AS before,
            if(empty(before), '', tupleElement(before[1], 3)) AS first_ref,
            if(empty(before), '', tupleElement(before[-1], 3)) AS last_ref
        FROM
        (
            SELECT
                platform,
                account_id,
                arrayDistinct(groupArrayIf(tuple(event_time_ms, event_id), kind IN ('MESSAGE', 'POSTBACK') AND event_time_ms >= {from_ms:Int64} - 86400000)) AS acts,
                arraySort(arrayDistinct(groupArrayIf(tuple(event_time_ms, event_id, assumeNotNull(referral_ref)), isNotNull(referral_ref)))) AS refs
            FROM events
            WHERE event_time_ms < {to_ms:Int64}
                AND event_time <= toDateTime(intDiv({to_ms:Int64}, 1000), 'UTC')
                AND (isNotNull(referral_ref) OR (kind IN ('MESSAGE', 'POSTBACK') AND event_time_ms >= {from_ms:Int64} - 86400000))
            GROUP BY platform, account_id, participant_id
            HAVING arrayExists(a -> tupleElement(a, 1) >= {from_ms:Int64}, acts)
        )
        ARRAY JOIN arrayFilter(s -> tupleElement(s, 1) >= {from_ms:Int64}
            AND NOT arrayExists(p -> tupleElement(p, 1) >= tupleElement(s, 1) - 86400000
                AND (tupleElement(p, 1) < tupleElement(s, 1) OR (tupleElement(p, 1) = tupleElement(s, 1) AND tupleElement(p, 2) < tupleElement(s, 2))), acts), acts) AS start
    )
)
GROUP BY platform, account_id, ref
ORDER BY platform, account_id, ref
