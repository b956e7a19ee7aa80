-- participant_history: one participant's full referral history, oldest first:
-- every event that carried a referral, with the referral as Meta sent it.
--
-- Parameters: platform, account_id, participant_id (String): the participant,
-- platform as stored (INSTAGRAM, MESSENGER).
--
-- Result: event_time_ms, event_id, kind, thread, referral_ref, referral_source,
-- referral_type, referral_ad_id, referral_referer_uri, ordered by time then
-- event_id.
--
-- Exact with duplicate event_ids: FINAL collapses the copies of an event, which
-- share the sorting key and the partition; the filter is a prefix of the sorting
-- key, so FINAL merges only this participant's rows.
SELECT
    event_time_ms,
    event_id,
    kind,
    thread,
    referral_ref,
    referral_source,
    referral_type,
    referral_ad_id,
    referral_referer_uri
FROM events FINAL
WHERE platform = {platform:String}
    AND account_id = {account_id:String}
    AND participant_id = {participant_id:String}
    AND isNotNull(referral_ref)
ORDER BY event_time_ms, event_id
