-- Monitored firms. One row per firm; a re-import replaces the row (latest updated_at wins).
-- enrolled_to is NULL while the firm stays in the sample.
CREATE TABLE IF NOT EXISTS {{.DB}}firms{{.OnCluster}} (
    firm_id            String,
    name               String,
    region             String,
    prefecture         String,
    industry           String,
    baseline_headcount UInt32,
    ownership          String,
    enrolled_from      Nullable(Date),
    enrolled_to        Nullable(Date),
    updated_at         DateTime
) ENGINE = {{engine "ReplacingMergeTree(updated_at)" "firms"}}
ORDER BY firm_id;

-- Monthly reports. The latest revision per (firm_id, period) wins: a
-- redelivered message or a duplicate revision collapses into one row on merge,
-- and every query reads through the reports_latest view (FINAL), so none ever
-- sees a duplicate.
CREATE TABLE IF NOT EXISTS {{.DB}}reports{{.OnCluster}} (
    firm_id                 String,
    period                  Date,
    revision                UInt32,
    headcount               UInt32,
    vacancies               UInt32,
    hires                   UInt32,
    sep_economic_layoff     UInt32,
    sep_closure_bankruptcy  UInt32,
    sep_suspension          UInt32,
    sep_contract_expiry     UInt32,
    sep_resignation         UInt32,
    sep_retirement          UInt32,
    sep_transfer            UInt32,
    sep_other               UInt32,
    reported_at             DateTime,
    note                    String,
    ingested_at             DateTime,
    kafka_partition         Int32,
    kafka_offset            Int64
) ENGINE = {{engine "ReplacingMergeTree(revision)" "reports"}}
PARTITION BY toYear(period)
ORDER BY (firm_id, period);

CREATE VIEW IF NOT EXISTS {{.DB}}reports_latest{{.OnCluster}} AS
SELECT * FROM {{.DB}}reports FINAL;

-- Messages that failed validation, with the raw payload. Keyed by their Kafka
-- position so that a redelivery after a crash collapses into one row.
CREATE TABLE IF NOT EXISTS {{.DB}}rejects{{.OnCluster}} (
    received_at     DateTime,
    topic           String,
    partition       Int32,
    offset          Int64,
    message_key     String,
    reason          String,
    field           String,
    message         String,
    firm_id         String,
    payload         String,
    payload_bytes   UInt32
) ENGINE = {{engine "ReplacingMergeTree(received_at)" "rejects"}}
ORDER BY (topic, partition, offset);
