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
-- Exact with duplicate event_ids: referrals are grouped by event_id, and the
-- stage flags are max() over the person's (distinct) events, which copies cannot
-- change. Memory: the join holds every event of the period plus 7 days.
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
GROUP BY platform, account_id, ref
ORDER BY platform, account_id, ref
