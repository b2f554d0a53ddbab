-- The gateway (issue 3): API tokens, submissions it accepted, idempotency keys.

-- API tokens. Only the SHA-256 hash of a token is stored; token_id is its
-- non-secret prefix, used to find the row before the constant-time compare.
-- scope_kind is 'firm' (scope = a firm id) or 'region' (scope = a GB/T 2260
-- code: a county, prefecture or province bureau acting for its firms).
-- Revoking inserts the row again with revoked_at set and a higher version.
CREATE TABLE IF NOT EXISTS {{.DB}}gateway_tokens{{.OnCluster}} (
    token_id    String,
    hash        String,
    scope_kind  String,
    scope       String,
    label       String,
    created_at  DateTime,
    revoked_at  Nullable(DateTime),
    version     UInt64
) ENGINE = {{engine "ReplacingMergeTree(version)" "gateway_tokens"}}
ORDER BY token_id;

-- Every report the gateway accepted (Kafka acknowledged it), with who sent it
-- and whether it came after its period's deadline. Written in batches after
-- the answer; an audit trail and the "pending" state of GET /v1/reports
-- until ingest stores the report.
CREATE TABLE IF NOT EXISTS {{.DB}}gateway_submissions{{.OnCluster}} (
    received_at     DateTime,
    submission_id   String,
    firm_id         String,
    period          Date,
    revision        UInt32,
    token_id        String,
    channel         String,
    idempotency_key String,
    late            UInt8
) ENGINE = {{engine "MergeTree()" "gateway_submissions"}}
PARTITION BY toYear(period)
ORDER BY (firm_id, period, revision, received_at);

-- Answers to POSTs that carried an Idempotency-Key, replayed when the same
-- token retries the same request with the same key (honoured for 24 hours).
CREATE TABLE IF NOT EXISTS {{.DB}}gateway_idempotency{{.OnCluster}} (
    token_id        String,
    idempotency_key String,
    request_hash    String,
    status          UInt16,
    body            String,
    created_at      DateTime
) ENGINE = {{engine "ReplacingMergeTree(created_at)" "gateway_idempotency"}}
ORDER BY (token_id, idempotency_key);
