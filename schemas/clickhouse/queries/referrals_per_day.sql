-- referrals_per_day: per calendar day in a time zone, the events that carried
-- a referral and the distinct people they came from, over a period.
--
-- Parameters: from_ms, to_ms (Int64, Unix ms): events with
-- from_ms <= event_time_ms < to_ms; tz (String): an IANA time zone name
-- ('UTC', 'Europe/Berlin'), in which days begin.
--
-- Result: day (Date, in tz), referrals, participants; by day. Days without
-- referrals have no row.
--
-- Exact with duplicate event_ids: uniqExact of event_id and of the
-- participant, which copies cannot change.
SELECT
    toDate(event_time, {tz:String}) AS day,
    uniqExact(event_id) AS referrals,
    uniqExact(platform, account_id, participant_id) AS participants
FROM events
WHERE isNotNull(referral_ref)
    AND event_time_ms >= {from_ms:Int64} AND event_time_ms < {to_ms:Int64}
    AND event_time >= toDateTime(intDiv({from_ms:Int64}, 1000), 'UTC')
    AND event_time <= toDateTime(intDiv({to_ms:Int64}, 1000), 'UTC')
GROUP BY day
ORDER BY day
