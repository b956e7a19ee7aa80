-- dead_letters_summary: dead letters without their payload and header values,
-- for readers that must not see them (the dashboards user: see
-- deploy/clickhouse/initdb). Payloads are redacted before they are stored, but
-- they are the raw webhook's structure and ids; the header values carry the
-- signature and request id. ClickHouse 18.16 has no column grants: a view is
-- what it can offer, and current releases also revoke the columns.
CREATE VIEW IF NOT EXISTS {{.Database}}.dead_letters_summary{{.OnCluster}} AS
SELECT
    raw_topic,
    raw_partition,
    raw_offset,
    reason,
    stage,
    detail,
    header_keys,
    received_time_ms,
    received_time,
    inserted_at
FROM {{.Database}}.dead_letters;
