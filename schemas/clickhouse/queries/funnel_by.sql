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
-- Exact with duplicate event_ids and duplicate catalog versions: a person's
-- referrals are a set, as in funnel.sql, and the catalog side is one row per ref.
--
-- Cost: funnel.sql's one pass over the events of the period plus 7 days,
-- grouped by person; the catalog is joined to the judged referrals, not to
-- events. The join of referrals with every event of the period this query did
-- first took over 35 s for 30 days of ten million events under load; this
-- takes 2.8-4.1 s on an idle machine (docs/benchmarks.md).
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
            tupleElement(referral, 2) AS ref,
            tupleElement(referral, 3) AS referral_ms,
            arrayExists(a -> tupleElement(a, 2) IN ('MESSAGE', 'POSTBACK') AND tupleElement(a, 1) >= referral_ms AND tupleElement(a, 1) <= referral_ms + 86400000, acts) AS is_conversed,
            arrayExists(a -> tupleElement(a, 2) = 'ECHO' AND tupleElement(a, 1) >= referral_ms AND tupleElement(a, 1) <= referral_ms + 86400000, acts) AS is_answered,
            arrayExists(a -> tupleElement(a, 2) = 'MESSAGE' AND tupleElement(a, 1) > referral_ms + 86400000 AND tupleElement(a, 1) <= referral_ms + 604800000, acts) AS is_returned
        FROM
        (
            SELECT
                platform,
                account_id,
                participant_id,
                arrayDistinct(groupArrayIf(tuple(event_id, assumeNotNull(referral_ref), event_time_ms), isNotNull(referral_ref) AND event_time_ms < {to_ms:Int64})) AS referrals,
                groupArrayIf(tuple(event_time_ms, kind), kind IN ('MESSAGE', 'POSTBACK', 'ECHO')) AS acts
            FROM events
            WHERE event_time_ms >= {from_ms:Int64} AND event_time_ms <= {to_ms:Int64} + 604800000
                AND event_time >= toDateTime(intDiv({from_ms:Int64}, 1000), 'UTC')
                AND event_time <= toDateTime(intDiv({to_ms:Int64} + 604800000, 1000), 'UTC')
            GROUP BY platform, account_id, participant_id
            HAVING notEmpty(referrals)
        )
        ARRAY JOIN referrals AS referral
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
