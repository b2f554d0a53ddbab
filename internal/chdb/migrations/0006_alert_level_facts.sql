-- What the risk plan says about an alert's level — its name, colour,
-- action and response deadline (alertevent.LevelFacts) — recorded with each
-- alert event: the detector copies them from its plan onto every event, and
-- the alerts component, which never reads the plan, rebuilds its state from
-- alerts_latest on restart. Rows recorded before this migration have empty
-- facts; readers take the shipped default plan's (alertevent.DefaultLevelFacts).
--
-- ClickHouse 18.16 (the tests' server) has no ADD COLUMN IF NOT EXISTS, so
-- the columns come in one ALTER, first: it adds all of them or none. Should
-- `migrate` stop after it and before recording this migration, running it
-- again fails with "column already exists"; then finish by hand with the
-- statements below the ALTER and insert version 6 into schema_migrations.
ALTER TABLE {{.DB}}alerts{{.OnCluster}}
    ADD COLUMN level_name_zh String,
    ADD COLUMN level_name_en String,
    ADD COLUMN level_color String,
    ADD COLUMN level_action_zh String,
    ADD COLUMN level_action_en String,
    ADD COLUMN level_response_seconds UInt32;

-- On a cluster, the Distributed table over alerts (0005) takes the new
-- columns by being made again AS alerts: it holds no rows (nothing inserts
-- through it), and 18.16 refuses ALTER ON CLUSTER for a table that is not
-- replicated on a replicated cluster.
{{if .Cluster}}
DROP TABLE IF EXISTS {{.DB}}alerts_all{{.OnCluster}};

CREATE TABLE IF NOT EXISTS {{.DB}}alerts_all{{.OnCluster}} AS {{.DB}}alerts
ENGINE = Distributed({{.Cluster}}, {{.DBName}}, alerts, cityHash64(alert_id));
{{end}}

-- The current state of every alert, as in 0003, with its level's facts.
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
    argMax(level_response_seconds, version) AS level_response_seconds
FROM {{.DB}}alerts
GROUP BY alert_id;
