-- participant: one participant's state as participants_agg keeps it: first and
-- latest referral, first seen, last inbound interaction. This is the one-query
-- read of the participants view, filtered before aggregating (18.16 does not
-- push a WHERE into a view).
--
-- Parameters: platform, account_id, participant_id (String).
--
-- Result: one row (none for an unknown participant): first_ref, first_source,
-- first_referral_ms, latest_ref, latest_source, latest_referral_ms (the last
-- referral time), first_seen_ms, last_inbound_ms. Without a referral the ref
-- columns are '' and their times 0; last_inbound_ms is 0 when the person never
-- wrote (only ECHO events).
--
-- Exact with duplicate event_ids: min, max, argMin and argMax states, which
-- copies cannot change; ties in time are broken by event_id.
SELECT
    tupleElement(argMinIfMerge(first_referral_state), 1) AS first_ref,
    tupleElement(argMinIfMerge(first_referral_state), 2) AS first_source,
    tupleElement(argMinIfMerge(first_referral_state), 3) AS first_referral_ms,
    tupleElement(argMaxIfMerge(latest_referral_state), 1) AS latest_ref,
    tupleElement(argMaxIfMerge(latest_referral_state), 2) AS latest_source,
    tupleElement(argMaxIfMerge(latest_referral_state), 3) AS latest_referral_ms,
    minMerge(first_seen_state) AS first_seen_ms,
    maxIfMerge(last_inbound_state) AS last_inbound_ms
FROM participants_agg
WHERE platform = {platform:String}
    AND account_id = {account_id:String}
    AND participant_id = {participant_id:String}
GROUP BY platform, account_id, participant_id
