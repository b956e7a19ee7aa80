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
