-- Old months are not emergencies: each alert event says whether it is about
-- a month past the detector's alert horizon (`old`: why — history,
-- late_data, plan_changed — or empty) and until when its month is urgent
-- (`urgent_until`: the end of the month's reporting window plus the
-- horizon). The alerts component reads both from alerts_latest on restart,
-- so an old alert is told in a summary and never escalated, whatever the
-- detector's configuration. Rows recorded before this migration have no
-- reason and urgent_until 0: current, and urgent for ever, as they were.
--
-- Numbered 0010: other branches add 0007–0009.
--
-- ClickHouse 18.16 (the tests' server) has no ADD COLUMN IF NOT EXISTS, so
-- the columns come in one ALTER, first: it adds both or none. Should
-- `migrate` stop after it and before recording this migration, running it
-- again fails with "column already exists"; then finish by hand with the
-- statements below the ALTER and insert version 10 into schema_migrations.
ALTER TABLE {{.DB}}alerts{{.OnCluster}}
    ADD COLUMN old String,
    ADD COLUMN urgent_until DateTime;

-- On a cluster, the Distributed table over alerts takes the new columns by
-- being made again AS alerts, as in 0006.
{{if .Cluster}}
DROP TABLE IF EXISTS {{.DB}}alerts_all{{.OnCluster}};

CREATE TABLE IF NOT EXISTS {{.DB}}alerts_all{{.OnCluster}} AS {{.DB}}alerts
ENGINE = Distributed({{.Cluster}}, {{.DBName}}, alerts, cityHash64(alert_id));
{{end}}

-- The current state of every alert, as in 0006, with the old-month fields
-- of its latest event.
DROP TABLE IF EXISTS {{.DB}}alerts_latest{{.OnCluster}};

CREATE VIEW IF NOT EXISTS {{.DB}}alerts_latest{{.OnCluster}} AS
SELECT
    alert_id,
    max(version)                            AS last_version,
    argMax(event, version)                  AS event,
    any(rule)                               AS rule,
    any(scope)                              AS scope,
    any(alert_key)                          AS alert_key,
    any(period)                             AS period,
    argMax(level, version)                  AS level,
    argMax(values_json, version)            AS values_json,
    any(region)                             AS region,
    any(prefecture)                         AS prefecture,
    any(industry)                           AS industry,
    argMax(reported, version)               AS reported,
    argMax(expected, version)               AS expected,
    any(subject)                            AS subject,
    any(title_zh)                           AS title_zh,
    any(title_en)                           AS title_en,
    argMax(summary_zh, version)             AS summary_zh,
    argMax(summary_en, version)             AS summary_en,
    min(emitted_at)                         AS first_emitted_at,
    max(emitted_at)                         AS last_emitted_at,
    argMax(level_name_zh, version)          AS level_name_zh,
    argMax(level_name_en, version)          AS level_name_en,
    argMax(level_color, version)            AS level_color,
    argMax(level_action_zh, version)        AS level_action_zh,
    argMax(level_action_en, version)        AS level_action_en,
    argMax(level_response_seconds, version) AS level_response_seconds,
    argMax(old, version)                    AS old,
    argMax(urgent_until, version)           AS urgent_until
FROM {{.DB}}alerts
GROUP BY alert_id;
