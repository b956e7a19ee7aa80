-- windows: who may be messaged now on one business account, a page at a time:
-- participants with a messaging window open at now_ms (see open_windows.sql
-- for the rules), with its kind and expiry, the soonest to close first.
--
-- Parameters: platform, account_id (String); now_ms (Int64, Unix ms); the
-- page: after_expires_ms (Int64) and after_participant (String), the last row
-- of the previous page (0 and '' for the first); marketing_only (UInt8): 1 keeps only the people who may get marketing
-- messages (opted in, not stopped).
--
-- Result: participant_id, window_kind ('standard' or 'ad'), expires_ms,
-- last_inbound_ms, marketing ('IN', 'STOP' or ''), latest_ref,
-- latest_source, latest_type, latest_ad_id, latest_referral_ms; ordered by
-- expires_ms then participant_id. Append LIMIT n for a page of n rows (18.16
-- takes no expression there, so it is not a parameter).
--
-- Exact with duplicate event_ids, as open_windows. Cost: the account's open
-- windows (an index range of message_windows), and an index lookup of their
-- participants in participant_state.
SELECT
    participant_id,
    kind_now AS window_kind,
    expires_at_ms AS expires_ms,
    last_inbound_ms,
    marketing,
    latest_ref,
    latest_source,
    latest_type,
    latest_ad_id,
    latest_referral_ms
FROM
(
    SELECT
        participant_id,
        max(expires_ms) AS expires_at_ms,
        argMax(window_kind, tuple(expires_ms, window_kind)) AS kind_now
    FROM message_windows
    WHERE platform = {platform:String} AND account_id = {account_id:String}
        AND expires_ms > {now_ms:Int64} AND opened_ms <= {now_ms:Int64}
    GROUP BY participant_id
    HAVING expires_at_ms > {after_expires_ms:Int64}
        OR (expires_at_ms = {after_expires_ms:Int64} AND participant_id > {after_participant:String})
)
ANY LEFT JOIN
(
    SELECT
        participant_id,
        maxIfMerge(last_inbound_state) AS last_inbound_ms,
        argMaxIfMerge(marketing_state) AS marketing,
        tupleElement(argMaxIfMerge(latest_referral_state), 1) AS latest_ref,
        tupleElement(argMaxIfMerge(latest_referral_state), 2) AS latest_source,
        tupleElement(argMaxIfMerge(latest_referral_state), 3) AS latest_type,
        tupleElement(argMaxIfMerge(latest_referral_state), 4) AS latest_ad_id,
        tupleElement(argMaxIfMerge(latest_referral_state), 5) AS latest_referral_ms
    FROM participant_state
    WHERE platform = {platform:String} AND account_id = {account_id:String}
        AND participant_id IN
        (
            SELECT participant_id
            FROM message_windows
            WHERE platform = {platform:String} AND account_id = {account_id:String}
                AND expires_ms > {now_ms:Int64} AND opened_ms <= {now_ms:Int64}
        )
    GROUP BY participant_id
) USING (participant_id)
WHERE {marketing_only:UInt8} = 0 OR marketing = 'IN'
ORDER BY expires_ms, participant_id
