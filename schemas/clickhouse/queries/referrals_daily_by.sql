-- referrals_daily_by: referrals per UTC day, by campaign, channel or ref of the
-- links catalog.
--
-- Parameters: from_ms, to_ms (Int64, Unix ms): referrals with
-- from_ms <= event_time_ms < to_ms; by (String): 'campaign', 'channel' or 'ref'.
--
-- A referral is an event carrying one (a standalone REFERRAL or the referral
-- inside a first MESSAGE, POSTBACK or OPTIN), as in funnel.sql; its ref is
-- joined to the latest version of that ref in links, and refs the catalog lacks
-- count as campaign and channel '(uncataloged)'.
--
-- Result: one row per day and group that had referrals, ordered by day and
-- name: day (Date), name, referrals.
--
-- Exact with duplicate event_ids: each ref's referrals of a day are counted
-- with uniqExact(event_id), and an event has one ref, so their sums per group
-- are exact too.
SELECT
    day,
    multiIf({by:String} = 'campaign', campaign, {by:String} = 'channel', channel, ref) AS name,
    sum(ref_referrals) AS referrals
FROM
(
    SELECT
        day,
        ref,
        ref_referrals,
        if(cataloged = 1, link_campaign, '(uncataloged)') AS campaign,
        if(cataloged = 1, link_channel, '(uncataloged)') AS channel
    FROM
    (
        SELECT
            toDate(toDateTime(intDiv(event_time_ms, 1000), 'UTC'), 'UTC') AS day,
            assumeNotNull(referral_ref) AS ref,
            uniqExact(event_id) AS ref_referrals
        FROM events
        WHERE isNotNull(referral_ref)
            AND event_time_ms >= {from_ms:Int64} AND event_time_ms < {to_ms:Int64}
            AND event_time >= toDateTime(intDiv({from_ms:Int64}, 1000), 'UTC')
            AND event_time <= toDateTime(intDiv({to_ms:Int64}, 1000), 'UTC')
        GROUP BY day, ref
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
GROUP BY day, name
ORDER BY day, name
