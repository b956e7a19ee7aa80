-- funnel: the campaign funnel per ref, for the referrals of a period.
--
-- Parameters: from_ms, to_ms (Int64, Unix ms): referrals with
-- from_ms <= event_time_ms < to_ms. The person's events up to 7 days after
-- to_ms are looked at.
--
-- Every event carrying a referral (a standalone REFERRAL, or the referral inside
-- a first MESSAGE, POSTBACK or OPTIN) enters the funnel once; each stage needs
-- the one before:
--   referrals: the referral;
--   conversed: a MESSAGE or POSTBACK from the person within 24 h of the referral
--              (the referral's own event counts: a first message carrying it);
--   answered:  conversed, and an ECHO (a business reply) within 24 h of it;
--   returned:  answered, and a MESSAGE from the person more than 24 h and at most
--              7 days after the referral.
-- "Within 24 h" means referral time <= t <= referral time + 24 h. Several
-- referrals of one person are judged independently.
--
-- Result: one row per (platform, account_id, ref), ordered by them: referrals,
-- participants (distinct people referred), conversed, answered, returned.
--
-- Exact with duplicate event_ids: a person's referrals are a set of (event_id,
-- ref, time), which copies of an event cannot grow, and the stage flags say
-- whether some event of the person matches, which copies cannot change.
--
-- Cost: one pass over the events of the period plus 7 days, grouped by person
-- (each person's referrals and the times and kinds of their messages, replies
-- and postbacks, as arrays), then each referral judged against its person's
-- array. A join of referrals with every event of the period, as this query
-- did first, took about 1.7 times as long. The referrals are collected as a
-- plain array and made distinct once per person: a set per person
-- (groupUniqArray) cost a third more on ten million events. Memory: the
-- arrays of every person active in the period.
SELECT
    platform,
    account_id,
    ref,
    count() AS referrals,
    uniqExact(participant_id) AS participants,
    sum(is_conversed) AS conversed,
    sum(is_conversed AND is_answered) AS answered,
    sum(is_conversed AND is_answered AND is_returned) AS returned
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
GROUP BY platform, account_id, ref
ORDER BY platform, account_id, ref
