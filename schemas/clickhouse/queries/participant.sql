-- participant: one participant's state as participant_state keeps it: first and
-- latest referral, first seen, last inbound interaction, what the messaging
-- window and the marketing opt-in depend on. This is the one-query read of the
-- participants view, filtered before aggregating (18.16 does not push a WHERE
-- into a view): an index lookup, whatever the size of the table.
--
-- Parameters: platform, account_id, participant_id (String).
--
-- Result: one row (none for an unknown participant): first_ref, first_source,
-- first_referral_ms, latest_ref, latest_source, latest_referral_ms (the last
-- referral time), first_seen_ms, last_inbound_ms, first_type, first_ad_id,
-- latest_type, latest_ad_id, last_ad_message_ms, marketing. Without a referral
-- the ref columns are '' and their times 0; last_inbound_ms is 0 when the
-- person never wrote (only ECHO events or an opt-out), last_ad_message_ms 0
-- without a message from an ad; marketing is 'IN' (opted in to marketing
-- messages), 'STOP' (stopped them) or '' (never opted in); then the history,
-- every event that carried a referral, oldest first (ties by event_id), as
-- one array per field: history_ms, history_event_id, history_kind,
-- history_thread, history_ref, history_source, history_type, history_ad_id,
-- history_referer_uri ('' for what Meta left out).
--
-- Exact with duplicate event_ids: min, max, argMin and argMax states, which
-- copies cannot change; ties in time are broken by event_id.
SELECT
    tupleElement(argMinIfMerge(first_referral_state), 1) AS first_ref,
    tupleElement(argMinIfMerge(first_referral_state), 2) AS first_source,
    tupleElement(argMinIfMerge(first_referral_state), 5) AS first_referral_ms,
    tupleElement(argMaxIfMerge(latest_referral_state), 1) AS latest_ref,
    tupleElement(argMaxIfMerge(latest_referral_state), 2) AS latest_source,
    tupleElement(argMaxIfMerge(latest_referral_state), 5) AS latest_referral_ms,
    minMerge(first_seen_state) AS first_seen_ms,
    maxIfMerge(last_inbound_state) AS last_inbound_ms,
    tupleElement(argMinIfMerge(first_referral_state), 3) AS first_type,
    tupleElement(argMinIfMerge(first_referral_state), 4) AS first_ad_id,
    tupleElement(argMaxIfMerge(latest_referral_state), 3) AS latest_type,
    tupleElement(argMaxIfMerge(latest_referral_state), 4) AS latest_ad_id,
    maxIfMerge(last_ad_message_state) AS last_ad_message_ms,
    argMaxIfMerge(marketing_state) AS marketing,
    arrayMap(h -> tupleElement(h, 1), arraySort(groupUniqArrayIfMerge(history_state))) AS history_ms,
    arrayMap(h -> tupleElement(h, 2), arraySort(groupUniqArrayIfMerge(history_state))) AS history_event_id,
    arrayMap(h -> tupleElement(h, 3), arraySort(groupUniqArrayIfMerge(history_state))) AS history_kind,
    arrayMap(h -> tupleElement(h, 4), arraySort(groupUniqArrayIfMerge(history_state))) AS history_thread,
    arrayMap(h -> tupleElement(h, 5), arraySort(groupUniqArrayIfMerge(history_state))) AS history_ref,
    arrayMap(h -> tupleElement(h, 6), arraySort(groupUniqArrayIfMerge(history_state))) AS history_source,
    arrayMap(h -> tupleElement(h, 7), arraySort(groupUniqArrayIfMerge(history_state))) AS history_type,
    arrayMap(h -> tupleElement(h, 8), arraySort(groupUniqArrayIfMerge(history_state))) AS history_ad_id,
    arrayMap(h -> tupleElement(h, 9), arraySort(groupUniqArrayIfMerge(history_state))) AS history_referer_uri
FROM participant_state
WHERE platform = {platform:String}
    AND account_id = {account_id:String}
    AND participant_id = {participant_id:String}
GROUP BY platform, account_id, participant_id
