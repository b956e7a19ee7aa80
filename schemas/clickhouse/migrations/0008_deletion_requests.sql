-- deletion_requests: Meta's data deletion requests (ingest's POST
-- /data-deletion) and what became of them, copied from the DELETION_TOPIC by
-- reftrailctl deletions process, for SQL and for the record. One row per
-- confirmation code once merged; read with FINAL. status is received,
-- no_match (no mapping: nothing could be identified) or erased; finished_at is
-- 0 (1970-01-01) until processed. user_id is Meta's app-scoped id.
CREATE TABLE IF NOT EXISTS {{.Database}}.deletion_requests{{.OnCluster}}
(
    confirmation_code  String,
    user_id            String,
    issued_at          DateTime('UTC'),
    received_at        DateTime('UTC'),
    status             String,
    finished_at        DateTime('UTC'),
    people             UInt32,
    rows_removed       UInt64,
    updated_ms         UInt64
)
ENGINE = {{engine "ReplacingMergeTree" "deletion_requests" "updated_ms"}}
ORDER BY confirmation_code;

-- deletion_mappings: filled by the business, never by reftrail: which
-- participants an app-scoped Meta user id (the user_id of a data deletion
-- request) stands for, e.g. from a Facebook Login on its own site linked to a
-- conversation. Without a row here a deletion request identifies nobody.
CREATE TABLE IF NOT EXISTS {{.Database}}.deletion_mappings{{.OnCluster}}
(
    app_user_id     String,
    platform        String,
    account_id      String,
    participant_id  String,
    created_at      DateTime('UTC') DEFAULT now()
)
ENGINE = {{engine "ReplacingMergeTree" "deletion_mappings"}}
ORDER BY (app_user_id, platform, account_id, participant_id);
