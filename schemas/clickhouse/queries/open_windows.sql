-- open_windows: who can be messaged now: participants whose last inbound
-- interaction (any event from the person: MESSAGE, POSTBACK, OPTIN, or a
-- referral; not an ECHO) is less than 24 h old, with their latest referral and
-- the time left before Meta's 24-hour messaging window closes.
--
-- Parameters: now_ms (Int64, Unix ms): the current time. It is a parameter so
-- that results are reproducible; the state read is the latest, not as of now_ms,
-- so pass a time no earlier than the newest event.
--
-- Result: platform, account_id, participant_id, last_inbound_ms, latest_ref,
-- latest_source, latest_referral_ms ('' and 0 without a referral),
-- window_left_ms; the most urgent first.
--
-- Exact with duplicate event_ids: it reads participants_agg, whose max and
-- argMax states copies cannot change.
SELECT
    platform,
    account_id,
    participant_id,
    maxIfMerge(last_inbound_state) AS last_inbound_ms,
    tupleElement(argMaxIfMerge(latest_referral_state), 1) AS latest_ref,
    tupleElement(argMaxIfMerge(latest_referral_state), 2) AS latest_source,
    tupleElement(argMaxIfMerge(latest_referral_state), 3) AS latest_referral_ms,
    last_inbound_ms + 86400000 - {now_ms:Int64} AS window_left_ms
FROM participants_agg
GROUP BY platform, account_id, participant_id
HAVING last_inbound_ms > {now_ms:Int64} - 86400000
ORDER BY window_left_ms, platform, account_id, participant_id
