package main

import (
	"fmt"

	"github.com/layoffwatch/layoffwatch/deploy/grafana"
)

type grafanaTenantsCmd struct {
	Provinces    []string `help:"The provinces (GB/T 2260 codes), each with its Grafana org id (620000=2,420000=3) or, without one, the id after the previous province's (--first-org for the first)." required:"" sep:","`
	FirstOrg     int      `help:"Grafana org id of the first province when --provinces gives none (create the orgs first, docs/operations.md)." default:"2"`
	Out          string   `help:"Directory to write into (created): the ClickHouse users file, Grafana's provisioning and dashboards, the compose override." required:"" type:"path"`
	Mount        string   `help:"The output directory as docker-compose sees it, relative to the project directory (default: --out as given)."`
	Database     string   `help:"The ClickHouse database." default:"layoffwatch"`
	Profile      string   `help:"The ClickHouse settings profile of the provinces' users (deploy/compose/clickhouse-users.xml defines readonly)." default:"readonly"`
	Host         string   `help:"ClickHouse host for the data sources." default:"clickhouse"`
	Port         int      `help:"ClickHouse native port for the data sources." default:"9000"`
	Dashboards   string   `help:"The dashboards to copy into each province's folder." default:"deploy/grafana/dashboards" type:"existingdir"`
	Provisioning string   `help:"The base Grafana provisioning, copied beside the provinces' files." default:"deploy/grafana/provisioning" type:"existingdir"`
}

// Run writes the provinces' ClickHouse users (row filters), Grafana
// provisioning and compose override (docs/operations.md, "Provinces as
// tenants").
func (c *grafanaTenantsCmd) Run(e *env) error {
	mount := c.Mount
	if mount == "" {
		mount = c.Out
	}
	tenants, err := grafana.WriteTenants(c.Out, grafana.TenantOptions{
		Provinces: c.Provinces, FirstOrg: c.FirstOrg, Database: c.Database, Profile: c.Profile,
		Host: c.Host, Port: c.Port, Dashboards: c.Dashboards, Provisioning: c.Provisioning, Mount: mount,
	})
	if err != nil {
		return fmt.Errorf("grafana-tenants: %w", err)
	}
	for _, t := range tenants {
		if _, err := fmt.Fprintf(e.stdout, "%s %s\tGrafana org %d\tClickHouse user %s\tsecret %s\n", t.Province, t.Name, t.Org, t.User, t.Secret); err != nil {
			return err
		}
	}
	_, err = fmt.Fprintf(e.stdout, "written to %s; create the orgs in this order before Grafana loads the files (docs/operations.md)\n", c.Out)
	return err
}
