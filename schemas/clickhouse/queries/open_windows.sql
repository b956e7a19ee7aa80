-- open_windows: who can be messaged now, on every account: participants with a
-- messaging window open at now_ms, its kind and expiry, whether they may get
-- marketing messages, and their latest referral.
--
-- Windows (migration 0006): an inbound event (any but an ECHO or an opt-out)
-- opens a standard window of 24 h; a MESSAGE or POSTBACK carrying a
-- click-to-message ad's referral opens an ad window of 7 days. A person's
-- window is the one that closes last (a tie counts as standard).
--
-- Parameters: now_ms (Int64, Unix ms): the current time. Windows are as of
-- now_ms (opened at or before it); the latest referral, last inbound time and
-- marketing status are the latest state.
--
-- Result: platform, account_id, participant_id, window_kind ('standard' or
-- 'ad'), expires_ms, window_left_ms, last_inbound_ms, marketing ('IN': opted
-- in to marketing messages; 'STOP': stopped them, never offer them; '': never
-- opted in), latest_ref, latest_source, latest_referral_ms ('' and 0 without
-- a referral); the soonest to close first.
--
-- Exact with duplicate event_ids: copies of an event write the same
-- message_windows row, and max() cannot count one twice; participant_state
-- holds duplicate-proof states. Cost: message_windows is partitioned by the
-- month of expiry (and sorted by it within an account), so only the months
-- holding open windows are read.
SELECT
    platform,
    account_id,
    participant_id,
    kind_now AS window_kind,
    expires_at_ms AS expires_ms,
    expires_at_ms - {now_ms:Int64} AS window_left_ms,
    last_inbound_ms,
    marketing,
    latest_ref,
    latest_source,
    latest_referral_ms
FROM
(
    SELECT
        platform,
        account_id,
        participant_id,
        max(expires_ms) AS expires_at_ms,
        argMax(window_kind, tuple(expires_ms, window_kind)) AS kind_now
    FROM message_windows
    WHERE expires_ms > {now_ms:Int64} AND opened_ms <= {now_ms:Int64}
    GROUP BY platform, account_id, participant_id
)
ANY LEFT JOIN
(
    SELECT
        platform,
        account_id,
        participant_id,
        maxIfMerge(last_inbound_state) AS last_inbound_ms,
        argMaxIfMerge(marketing_state) AS marketing,
        tupleElement(argMaxIfMerge(latest_referral_state), 1) AS latest_ref,
        tupleElement(argMaxIfMerge(latest_referral_state), 2) AS latest_source,
        tupleElement(argMaxIfMerge(latest_referral_state), 5) AS latest_referral_ms
    FROM participant_state
    WHERE (platform, account_id, participant_id) IN
    (
        SELECT platform, account_id, participant_id
        FROM message_windows
        WHERE expires_ms > {now_ms:Int64} AND opened_ms <= {now_ms:Int64}
    )
    GROUP BY platform, account_id, participant_id
) USING (platform, account_id, participant_id)
ORDER BY window_left_ms, platform, account_id, participant_id
