-- funnel_by: the funnel of queries/funnel.sql rolled up by campaign, channel or
-- ref of the links catalog, with its conversion rates as columns.
--
-- Parameters: from_ms, to_ms (Int64, Unix ms): referrals with
-- from_ms <= event_time_ms < to_ms; by (String): 'campaign', 'channel' or 'ref'.
--
-- Each referral is judged as in funnel.sql (conversed within 24 h, answered
-- within 24 h, returned after 24 h and within 7 days), then joined by its ref to
-- the latest version of that ref in links. Refs that are not in the catalog roll
-- up as campaign and channel '(uncataloged)', so the rows add up to funnel.sql's
-- whole. The join is on the ref alone: the catalog's key.
--
-- Result: one row per group, most referrals first: name (the campaign, channel
-- or ref), referrals, participants (distinct people), conversed, answered,
-- returned, conversed_rate (conversed / referrals), answered_rate (answered /
-- conversed), returned_rate (returned / answered); a rate whose denominator is 0
-- is 0.
--
-- Exact with duplicate event_ids and duplicate catalog versions: referrals are
-- grouped by event_id as in funnel.sql, and the catalog side is one row per ref.
SELECT
    multiIf({by:String} = 'campaign', campaign, {by:String} = 'channel', channel, ref) AS name,
    count() AS referrals,
    uniqExact(platform, account_id, participant_id) AS participants,
    sum(is_conversed) AS conversed,
    sum(is_conversed AND is_answered) AS answered,
    sum(is_conversed AND is_answered AND is_returned) AS returned,
    if(referrals = 0, 0, conversed / referrals) AS conversed_rate,
    if(conversed = 0, 0, answered / conversed) AS answered_rate,
    if(answered = 0, 0, returned / answered) AS returned_rate
FROM
(
    SELECT
        platform,
        account_id,
        participant_id,
        ref,
        is_conversed,
        is_answered,
        is_returned,
        if(cataloged = 1, link_campaign, '(uncataloged)') AS campaign,
        if(cataloged = 1, link_channel, '(uncataloged)') AS channel
    FROM
    (
        SELECT
            platform,
            account_id,
            participant_id,
            referral_id,
            ref,
            max(kind IN ('MESSAGE', 'POSTBACK') AND t >= referral_ms AND t <= referral_ms + 86400000) AS is_conversed,
            max(kind = 'ECHO' AND t >= referral_ms AND t <= referral_ms + 86400000) AS is_answered,
            max(kind = 'MESSAGE' AND t > referral_ms + 86400000 AND t <= referral_ms + 604800000) AS is_returned
        FROM
        (
            SELECT
                platform,
                account_id,
                participant_id,
                event_id AS referral_id,
                any(assumeNotNull(referral_ref)) AS ref,
                any(event_time_ms) AS referral_ms
            FROM events
            WHERE isNotNull(referral_ref)
                AND event_time_ms >= {from_ms:Int64} AND event_time_ms < {to_ms:Int64}
                AND event_time >= toDateTime(intDiv({from_ms:Int64}, 1000), 'UTC')
                AND event_time <= toDateTime(intDiv({to_ms:Int64}, 1000), 'UTC')
            GROUP BY platform, account_id, participant_id, event_id
        )
        ALL INNER JOIN
        (
            SELECT DISTINCT
                platform,
                account_id,
                participant_id,
                kind,
                event_time_ms AS t
            FROM events
            WHERE event_time_ms >= {from_ms:Int64} AND event_time_ms <= {to_ms:Int64} + 604800000
                AND event_time >= toDateTime(intDiv({from_ms:Int64}, 1000), 'UTC')
                AND event_time <= toDateTime(intDiv({to_ms:Int64} + 604800000, 1000), 'UTC')
        ) USING (platform, account_id, participant_id)
        GROUP BY platform, account_id, participant_id, referral_id, ref
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
ORDER BY referrals DESC, name
