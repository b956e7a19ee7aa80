-- links: the catalog of tracked links, one per ref: the link (platform, the
-- business's account id when known, handle, kind thread or optin, url) and the
-- campaign it belongs to (campaign, channel, medium, variant, note).
--
-- The ref is the key. Changing or archiving a link inserts a new row of the same
-- ref with a greater version (Unix ns of the write); ReplacingMergeTree keeps the
-- greatest when parts merge, and reads pick it themselves with
-- argMax(column, version) GROUP BY ref, so the latest version wins before any
-- merge. created_at is the first version's time, carried into later ones.
-- archived (0 or 1) hides a link from lists; its referrals still roll up to its
-- campaign.
CREATE TABLE IF NOT EXISTS {{.Database}}.links{{.OnCluster}}
(
    ref         String,
    platform    String,
    account_id  String DEFAULT '',
    handle      String,
    kind        String,
    url         String,
    campaign    String DEFAULT '',
    channel     String DEFAULT '',
    medium      String DEFAULT '',
    variant     String DEFAULT '',
    note        String DEFAULT '',
    created_at  DateTime('UTC'),
    archived    UInt8 DEFAULT 0,
    version     UInt64
)
ENGINE = {{engine "ReplacingMergeTree" "links" "version"}}
ORDER BY ref;
