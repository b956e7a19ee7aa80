-- pipeline_latest: how fresh the stored events are: the latest receive time
-- (ingest accepted the POST) and the latest insert into ClickHouse. Subtract
-- them from now for the pipeline's freshness.
--
-- Result: one row: last_received_ms (Unix ms), last_inserted_s (Unix seconds;
-- inserted_at has second precision); 0 and 0 when events is empty.
SELECT
    max(received_time_ms) AS last_received_ms,
    toInt64(toUInt32(max(inserted_at))) AS last_inserted_s
FROM events
