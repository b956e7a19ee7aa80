-- campaign_daily: per business account, ref and UTC day of a period, the events
-- that carried the ref, by source, kind and thread state, and the distinct
-- participants they came from.
--
-- Parameters: from_day, to_day (String, YYYY-MM-DD): days with
-- from_day <= day <= to_day.
--
-- Result: day, platform, account_id, ref, source, kind, thread, events,
-- participants, ordered by all but the counts.
--
-- Exact with duplicate event_ids: it merges the uniqExact states of
-- campaign_daily_agg, a set union that copies cannot change.
SELECT
    day,
    platform,
    account_id,
    ref,
    source,
    kind,
    thread,
    uniqExactMerge(events_state) AS events,
    uniqExactMerge(participants_state) AS participants
FROM campaign_daily_agg
WHERE day >= toDate({from_day:String}) AND day <= toDate({to_day:String})
GROUP BY day, platform, account_id, ref, source, kind, thread
ORDER BY day, platform, account_id, ref, source, kind, thread
