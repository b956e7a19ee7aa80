-- funnel_by: the funnel of queries/funnel.sql rolled up by campaign, channel or
-- ref of the links catalog, with its conversion rates as columns.
--
-- Parameters: from_ms, to_ms (Int64, Unix ms): referrals with
-- from_ms <= event_time_ms < to_ms; by (String): 'campaign', 'channel' or 'ref';
-- settled_to_ms (Int64, Unix ms): the referrals before it are read from the
-- settled outcomes of referral_outcomes, the others judged from events. Pass 0
-- to judge every referral from events; Store.Funnel passes the end of the
-- hours it has just made sure are settled (docs/clickhouse.md, "Settled funnel
-- outcomes"). A value past hours that are not settled drops their referrals.
--
-- Each referral is judged as in funnel.sql (conversed within 24 h, answered
-- within 24 h, returned after 24 h and within 7 days; queries/
-- referral_outcomes.sql, whose text the live part repeats), rolled up per ref,
-- then joined by its ref to the latest version of that ref in links. Refs that
-- are not in the catalog roll up as campaign and channel '(uncataloged)', so
-- the rows add up to funnel.sql's whole. The join is on the ref alone: the
-- catalog's key.
--
-- Result: one row per group, most referrals first: name (the campaign, channel
-- or ref), referrals, participants (distinct people), conversed, answered,
-- returned, conversed_rate (conversed / referrals), answered_rate (answered /
-- conversed), returned_rate (returned / answered); a rate whose denominator is 0
-- is 0. participants merges each ref's set of people, so a person referred by
-- two refs of a campaign counts once.
--
-- Exact with duplicate event_ids and duplicate catalog versions: a person's
-- referrals are made distinct by event_id, as in referral_outcomes.sql; a
-- settled hour is read in its latest version only; the catalog side is one row
-- per ref.
--
-- Cost (ten million events, docs/benchmarks.md): the settled part reads one
-- row per referral; the live part is referral_outcomes.sql's one pass over the
-- events of its referrals plus 7 days.
SELECT
    multiIf({by:String} = 'campaign', campaign, {by:String} = 'channel', channel, ref) AS name,
    sum(ref_referrals) AS referrals,
    uniqExactMerge(ref_participants) AS participants,
    sum(ref_conversed) AS conversed,
    sum(ref_answered) AS answered,
    sum(ref_returned) AS returned,
    if(referrals = 0, 0, conversed / referrals) AS conversed_rate,
    if(conversed = 0, 0, answered / conversed) AS answered_rate,
    if(answered = 0, 0, returned / answered) AS returned_rate
FROM
(
    SELECT
        ref,
        ref_referrals,
        ref_participants,
        ref_conversed,
        ref_answered,
        ref_returned,
        if(cataloged = 1, link_campaign, '(uncataloged)') AS campaign,
        if(cataloged = 1, link_channel, '(uncataloged)') AS channel
    FROM
    (
        SELECT
            ref,
            count() AS ref_referrals,
            uniqExactState(person) AS ref_participants,
            sum(conversed) AS ref_conversed,
            sum(conversed AND answered) AS ref_answered,
            sum(conversed AND answered AND returned) AS ref_returned
        FROM
        (
            SELECT person, ref, conversed, answered, returned
            FROM referral_outcomes
            WHERE hour >= toStartOfHour(toDateTime(intDiv({from_ms:Int64}, 1000), 'UTC'))
                AND hour < toDateTime(intDiv(least({to_ms:Int64}, {settled_to_ms:Int64}), 1000), 'UTC')
                AND referral_ms >= {from_ms:Int64} AND referral_ms < least({to_ms:Int64}, {settled_to_ms:Int64})
                AND (hour, version) IN
                (
                    SELECT hour, max(version)
                    FROM referral_outcome_hours
                    WHERE hour >= toStartOfHour(toDateTime(intDiv({from_ms:Int64}, 1000), 'UTC'))
                        AND hour < toDateTime(intDiv(least({to_ms:Int64}, {settled_to_ms:Int64}), 1000), 'UTC')
                    GROUP BY hour
                )
            UNION ALL
            SELECT person, ref, conversed, answered, returned
            FROM
            (
                SELECT
                    person,
                    ref,
                    referral_ms,
                    arrayExists(a -> a % 4 != 3 AND a >= referral_ms * 4 AND a <= (referral_ms + 86400000) * 4 + 3, acts) AS conversed,
                    arrayExists(a -> a % 4 = 3 AND a >= referral_ms * 4 AND a <= (referral_ms + 86400000) * 4 + 3, acts) AS answered,
                    arrayExists(a -> a % 4 = 1 AND a > (referral_ms + 86400000) * 4 + 3 AND a <= (referral_ms + 604800000) * 4 + 3, acts) AS returned
                FROM
                (
                    SELECT
                        cityHash64(platform, account_id, participant_id) AS person,
                        groupArrayIf(cityHash64(event_id), isNotNull(referral_ref) AND event_time_ms < {to_ms:Int64}) AS referral_ids,
                        groupArrayIf(event_time_ms, isNotNull(referral_ref) AND event_time_ms < {to_ms:Int64}) AS referral_times,
                        groupArrayIf(assumeNotNull(referral_ref), isNotNull(referral_ref) AND event_time_ms < {to_ms:Int64}) AS referral_refs,
                        groupArrayIf(event_time_ms * 4 + multiIf(kind = 'MESSAGE', 1, kind = 'POSTBACK', 2, 3), kind IN ('MESSAGE', 'POSTBACK', 'ECHO')) AS acts
                    FROM events
                    WHERE event_time_ms >= greatest({from_ms:Int64}, {settled_to_ms:Int64}) AND event_time_ms <= {to_ms:Int64} + 604800000
                        AND event_time >= toDateTime(intDiv(greatest({from_ms:Int64}, {settled_to_ms:Int64}), 1000), 'UTC')
                        AND event_time <= toDateTime(intDiv({to_ms:Int64} + 604800000, 1000), 'UTC')
                        AND greatest({from_ms:Int64}, {settled_to_ms:Int64}) < {to_ms:Int64}
                        AND ((isNotNull(referral_ref) AND event_time_ms < {to_ms:Int64}) OR kind IN ('MESSAGE', 'POSTBACK', 'ECHO'))
                        AND cityHash64(platform, account_id, participant_id) IN
                        (
                            SELECT cityHash64(platform, account_id, participant_id)
                            FROM events
                            WHERE isNotNull(referral_ref)
                                AND event_time_ms >= greatest({from_ms:Int64}, {settled_to_ms:Int64}) AND event_time_ms < {to_ms:Int64}
                                AND event_time >= toDateTime(intDiv(greatest({from_ms:Int64}, {settled_to_ms:Int64}), 1000), 'UTC')
                                AND event_time <= toDateTime(intDiv({to_ms:Int64}, 1000), 'UTC')
                                AND greatest({from_ms:Int64}, {settled_to_ms:Int64}) < {to_ms:Int64}
                        )
                    GROUP BY person
                    HAVING notEmpty(referral_ids)
                )
                ARRAY JOIN referral_times AS referral_ms, referral_refs AS ref, arrayEnumerateUniq(referral_ids) AS occurrence
                WHERE occurrence = 1
            )
        )
        GROUP BY ref
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
