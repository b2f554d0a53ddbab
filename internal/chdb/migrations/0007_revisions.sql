-- Every (firm, period, revision) ingest stored, with report.ContentHash of
-- its content. Ingest and the gateway compare a new report with it to refuse
-- the same revision with other content (duplicate_revision), and GET
-- /v1/reports lists revisions from it. The reports table cannot tell: it
-- collapses a firm-month's revisions into the latest on merge (on ClickHouse
-- 20+ already within one insert block), so an older revision may be gone.
-- Keyed by revision, this table loses none; rows of one key carry one
-- content_hash (ingest refuses another), so whichever a merge keeps is the
-- same. Reports stored before this table existed are not in it.
CREATE TABLE IF NOT EXISTS {{.DB}}report_revisions{{.OnCluster}} (
    firm_id       String,
    period        Date,
    revision      UInt32,
    content_hash  UInt64,
    reported_at   DateTime,
    ingested_at   DateTime
) ENGINE = {{engine "ReplacingMergeTree()" "report_revisions"}}
PARTITION BY toYear(period)
ORDER BY (firm_id, period, revision);

-- The gateway's twin: every revision it accepted (Kafka acknowledged it),
-- with the same content hash, written with gateway_submissions. A gateway,
-- restarted or another one behind the load balancer, answers 409 to the same
-- revision with other content before ingest has stored the first.
CREATE TABLE IF NOT EXISTS {{.DB}}gateway_revisions{{.OnCluster}} (
    firm_id       String,
    period        Date,
    revision      UInt32,
    content_hash  UInt64,
    received_at   DateTime
) ENGINE = {{engine "ReplacingMergeTree()" "gateway_revisions"}}
PARTITION BY toYear(period)
ORDER BY (firm_id, period, revision);
