-- referral_outcomes: each referral of a period with its funnel stages, the
-- rows of queries/funnel_by.sql before they are rolled up.
--
-- Parameters: from_ms, to_ms (Int64, Unix ms): referrals with
-- from_ms <= event_time_ms < to_ms. The person's events up to 7 days after
-- to_ms are looked at. An empty period reads nothing (the last condition: the
-- live part of funnel_by.sql is often empty).
--
-- The rules are funnel.sql's: every event carrying a referral enters once;
--   conversed: a MESSAGE or POSTBACK from the person within 24 h of the referral;
--   answered:  an ECHO within 24 h of it;
--   returned:  a MESSAGE more than 24 h and at most 7 days after it;
-- "within 24 h" meaning referral time <= t <= referral time + 24 h. The flags
-- are independent here: the roll-ups count answered only when conversed, and
-- returned only when both.
--
-- Result: one row per referral: person (cityHash64(platform, account_id,
-- participant_id)), ref, referral_ms, conversed, answered, returned (0 or 1).
-- Store.Funnel keeps these rows for settled hours in the table of the same
-- name (migrations/0010_referral_outcomes.sql).
--
-- Exact with duplicate event_ids: a person's referrals are made distinct by
-- the hash of their event_id (copies share it), and a stage says whether some
-- event matches, which copies cannot change. People and events are hashed
-- (64 bits) because grouping by one number is several times faster than by
-- three strings; two of a person's referrals sharing an event_id hash, or two
-- people sharing a person hash, is a chance of about one in 10^19 per pair.
--
-- Cost: one pass over the events of the period plus 7 days, of which only the
-- period's referrals and the messages, postbacks and replies of the people
-- referred in it (found by a first pass over the period's referrals) are
-- grouped by person, into arrays of numbers (each referral's event hash and time, its ref, and
-- every message, postback and reply as time * 4 + kind), then each referral
-- judged against its person's array: an act a of time t and kind k (1 MESSAGE,
-- 2 POSTBACK, 3 ECHO) is a = t * 4 + k, so t in [x, y] is a in [x * 4, y * 4 + 3].
-- Tuples under three string keys, as funnel_by.sql grouped by before, took a
-- fifth longer (30 days of ten million events: 3.0-3.7 s against 2.5-3.1 s;
-- docs/benchmarks.md).
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
    WHERE event_time_ms >= {from_ms:Int64} AND event_time_ms <= {to_ms:Int64} + 604800000
        AND event_time >= toDateTime(intDiv({from_ms:Int64}, 1000), 'UTC')
        AND event_time <= toDateTime(intDiv({to_ms:Int64} + 604800000, 1000), 'UTC')
        AND {from_ms:Int64} < {to_ms:Int64}
        AND ((isNotNull(referral_ref) AND event_time_ms < {to_ms:Int64}) OR kind IN ('MESSAGE', 'POSTBACK', 'ECHO'))
        AND cityHash64(platform, account_id, participant_id) IN
        (
            SELECT cityHash64(platform, account_id, participant_id)
            FROM events
            WHERE isNotNull(referral_ref)
                AND event_time_ms >= {from_ms:Int64} AND event_time_ms < {to_ms:Int64}
                AND event_time >= toDateTime(intDiv({from_ms:Int64}, 1000), 'UTC')
                AND event_time <= toDateTime(intDiv({to_ms:Int64}, 1000), 'UTC')
                AND {from_ms:Int64} < {to_ms:Int64}
        )
    GROUP BY person
    HAVING notEmpty(referral_ids)
)
ARRAY JOIN referral_times AS referral_ms, referral_refs AS ref, arrayEnumerateUniq(referral_ids) AS occurrence
WHERE occurrence = 1
