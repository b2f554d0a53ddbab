-- On a cluster (--clickhouse-cluster), Distributed tables over the
-- replicated ones: a query on any node reads the whole cluster (one replica
-- of each shard), so readers such as Grafana need not know where data lives.
-- On a single server this migration creates nothing.
{{if .Cluster}}
CREATE TABLE IF NOT EXISTS {{.DB}}reports_all{{.OnCluster}} AS {{.DB}}reports
ENGINE = Distributed({{.Cluster}}, {{.DBName}}, reports, cityHash64(firm_id));

CREATE TABLE IF NOT EXISTS {{.DB}}firms_all{{.OnCluster}} AS {{.DB}}firms
ENGINE = Distributed({{.Cluster}}, {{.DBName}}, firms, cityHash64(firm_id));

CREATE TABLE IF NOT EXISTS {{.DB}}alerts_all{{.OnCluster}} AS {{.DB}}alerts
ENGINE = Distributed({{.Cluster}}, {{.DBName}}, alerts, cityHash64(alert_id));
{{end}}
