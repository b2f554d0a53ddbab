-- N shards × M replicas (docs/operations.md, "Scale out"). The tables that
-- grow with reports are split over the shards by cityHash64(firm_id) — a
-- firm's rows always on one shard, so its revisions collapse there — and
-- every other table is replicated on every node (internal/chdb/layout.go).
-- Components read and write the sharded ones through Distributed tables:
-- reports_all (0005) and, here, the three others. firms and alerts are on
-- every node, so firms_all and alerts_all (0005) would count each row once
-- per shard: they go. On a single server this migration creates nothing.
{{if .Cluster}}
CREATE TABLE IF NOT EXISTS {{.DB}}report_revisions_all{{.OnCluster}} AS {{.DB}}report_revisions
ENGINE = Distributed({{.Cluster}}, {{.DBName}}, report_revisions, {{.ShardingKey}});

CREATE TABLE IF NOT EXISTS {{.DB}}gateway_submissions_all{{.OnCluster}} AS {{.DB}}gateway_submissions
ENGINE = Distributed({{.Cluster}}, {{.DBName}}, gateway_submissions, {{.ShardingKey}});

CREATE TABLE IF NOT EXISTS {{.DB}}gateway_revisions_all{{.OnCluster}} AS {{.DB}}gateway_revisions
ENGINE = Distributed({{.Cluster}}, {{.DBName}}, gateway_revisions, {{.ShardingKey}});

DROP TABLE IF EXISTS {{.DB}}firms_all{{.OnCluster}};

DROP TABLE IF EXISTS {{.DB}}alerts_all{{.OnCluster}};
{{end}}

-- reports_latest, the view ad-hoc readers use (the components name the
-- table and its Distributed twin themselves), reads every shard.
{{if .Cluster}}
DROP TABLE IF EXISTS {{.DB}}reports_latest{{.OnCluster}};

CREATE VIEW IF NOT EXISTS {{.DB}}reports_latest{{.OnCluster}} AS
SELECT * FROM {{.DB}}reports_all FINAL;
{{end}}
