-- attribution_by: the new conversations of queries/attribution.sql, credited
-- first-touch and last-touch, rolled up by campaign, channel or ref of the links
-- catalog.
--
-- Parameters: from_ms, to_ms (Int64, Unix ms): conversations that start with
-- from_ms <= start < to_ms; by (String): 'campaign', 'channel' or 'ref'.
--
-- Each conversation is credited as in attribution.sql, then its credited ref is
-- joined to the latest version of that ref in links. A conversation with no
-- referral before it counts as '(no referral)'; a ref the catalog lacks as
-- campaign and channel '(uncataloged)'. Each column sums to the number of new
-- conversations, as in attribution.sql.
--
-- Result: one row per group, most last-touch credits first: name, first_touch,
-- last_touch.
--
-- Exact with duplicate event_ids (see attribution.sql) and duplicate catalog
-- versions (one catalog row per ref).
--
-- Cost: attribution.sql's one pass; the catalog is joined to the credits.
SELECT
    multiIf({by:String} = 'campaign', campaign, {by:String} = 'channel', channel, if(ref = '', '(no referral)', ref)) AS name,
    sum(is_first) AS first_touch,
    sum(is_last) AS last_touch
FROM
(
    SELECT
        ref,
        is_first,
        is_last,
        multiIf(ref = '', '(no referral)', cataloged = 1, link_campaign, '(uncataloged)') AS campaign,
        multiIf(ref = '', '(no referral)', cataloged = 1, link_channel, '(uncataloged)') AS channel
    FROM
    (
        SELECT
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
    ALL LEFT JOIN
    (
        SELECT
            ref,
            argMax(campaign, version) AS link_campaign,
            argMax(channel, version) AS link_channel,
            toUInt8(1) AS cataloged
        FROM links
        GROUP BY ref
    ) USING (ref)
)
GROUP BY name
ORDER BY last_touch DESC, name
