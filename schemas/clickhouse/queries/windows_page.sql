-- windows_page: a page of one account's open windows, without the people's
-- state: what windows.sql returns first, for a caller that then looks up only
-- the page's participants (participant_state, by id) instead of joining every
-- open window's participant.
--
-- Parameters: platform, account_id (String); now_ms (Int64, Unix ms);
-- after_expires_ms (Int64) and after_participant (String), the last row of the
-- previous page (0 and '' for the first).
--
-- Result: participant_id, window_kind, expires_ms; ordered by expires_ms then
-- participant_id. Append LIMIT n for a page of n rows.
--
-- Exact with duplicate event_ids, as open_windows.sql.
SELECT
    participant_id,
    argMax(window_kind, tuple(expires_ms, window_kind)) AS kind_now,
    max(expires_ms) AS expires_at_ms
FROM message_windows
WHERE platform = {platform:String} AND account_id = {account_id:String}
    AND expires_ms > {now_ms:Int64} AND opened_ms <= {now_ms:Int64}
GROUP BY participant_id
HAVING expires_at_ms > {after_expires_ms:Int64}
    OR (expires_at_ms = {after_expires_ms:Int64} AND participant_id > {after_participant:String})
ORDER BY expires_at_ms, participant_id
