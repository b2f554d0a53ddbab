-- Alert state changes emitted by the detector (the Kafka topic "alerts" holds
-- the same events). One row per (alert_id, version); a re-insert after a
-- restart collapses into one row.
CREATE TABLE IF NOT EXISTS {{.DB}}alerts{{.OnCluster}} (
    alert_id        String,
    version         UInt32,
    event           String,
    rule            String,
    scope           String,
    alert_key       String,
    period          Date,
    level           String,
    previous_level  String,
    values_json     String,
    region          String,
    prefecture      String,
    industry        String,
    reported        UInt32,
    expected        UInt32,
    subject         String,
    title_zh        String,
    title_en        String,
    summary_zh      String,
    summary_en      String,
    plan            String,
    emitted_at      DateTime
) ENGINE = {{engine "ReplacingMergeTree(emitted_at)" "alerts"}}
PARTITION BY toYear(period)
ORDER BY (alert_id, version);

-- The current state of every alert: its latest event.
CREATE VIEW IF NOT EXISTS {{.DB}}alerts_latest{{.OnCluster}} AS
SELECT
    alert_id,
    max(version)                    AS last_version,
    argMax(event, version)          AS event,
    any(rule)                       AS rule,
    any(scope)                      AS scope,
    any(alert_key)                  AS alert_key,
    any(period)                     AS period,
    argMax(level, version)          AS level,
    argMax(values_json, version)    AS values_json,
    any(region)                     AS region,
    any(prefecture)                 AS prefecture,
    any(industry)                   AS industry,
    argMax(reported, version)       AS reported,
    argMax(expected, version)       AS expected,
    any(subject)                    AS subject,
    any(title_zh)                   AS title_zh,
    any(title_en)                   AS title_en,
    argMax(summary_zh, version)     AS summary_zh,
    argMax(summary_en, version)     AS summary_en,
    min(emitted_at)                 AS first_emitted_at,
    max(emitted_at)                 AS last_emitted_at
FROM {{.DB}}alerts
GROUP BY alert_id;
