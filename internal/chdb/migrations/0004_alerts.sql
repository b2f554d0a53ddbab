-- The notification log: one row per (alert, version, recipient, kind) and
-- status change. A message is sent only when no row with status sent,
-- silenced or folded exists for it, so a restart never sends twice.
CREATE TABLE IF NOT EXISTS {{.DB}}notifications{{.OnCluster}} (
    message_id      String,
    alert_id        String,
    alert_version   UInt32,
    recipient       String,
    kind            String,
    tier            UInt8,
    status          String,
    detail          String,
    level           String,
    rule            String,
    region          String,
    fired_at        DateTime,
    at              DateTime
) ENGINE = {{engine "MergeTree()" "notifications"}}
PARTITION BY toYYYYMM(at)
ORDER BY (alert_id, recipient, at);

-- Acknowledgements: who, when, how, with an optional comment.
CREATE TABLE IF NOT EXISTS {{.DB}}acks{{.OnCluster}} (
    alert_id   String,
    recipient  String,
    at         DateTime,
    comment    String,
    via        String
) ENGINE = {{engine "ReplacingMergeTree(at)" "acks"}}
ORDER BY (alert_id, recipient);

-- Silences: a new row per change (created, expired); the latest wins.
CREATE TABLE IF NOT EXISTS {{.DB}}silences{{.OnCluster}} (
    id          String,
    region      String,
    rule        String,
    firm_id     String,
    starts_at   DateTime,
    ends_at     DateTime,
    author      String,
    reason      String,
    created_at  DateTime,
    expired     UInt8,
    changed_at  DateTime
) ENGINE = {{engine "ReplacingMergeTree(changed_at)" "silences"}}
ORDER BY id;
