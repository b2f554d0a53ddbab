// Package grafana is the provisioned Grafana of layoffwatch (data sources,
// dashboard provider, dashboards as JSON), the test that proves every
// dashboard query runs on real ClickHouse with data, and what that test and
// the SQL-parity test (internal/sqlparity) share: the dashboards' queries
// with Grafana's macros and variables expanded (queries.go). It also
// generates the provinces' share of a multi-province deployment (tenants.go:
// ClickHouse users with row filters, per-province orgs' data sources and
// folders, the compose override). See README.md.
//
//	simulate ─► firms, reports ─┐
//	detector plan ─► alerts ────┼─► test ClickHouse ◀─ every panel and variable query
//	notifications, acks ────────┘   (macros and variables expanded, no empty result)
//
// It does not own the tables the dashboards read (internal/chdb/migrations)
// or the metrics the pipeline dashboard plots (ingest, detector, alerts,
// gateway).
package grafana
