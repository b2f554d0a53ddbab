package main

import (
	"time"

	"github.com/layoffwatch/layoffwatch/internal/demo"
)

type localCmd struct {
	simOptions     `embed:""`
	Dir            string `help:"Where the local ClickHouse keeps its data and logs, and the emails go (DIR/mail)." default:".layoffwatch/local" type:"path"`
	KafkaPort      int    `help:"Port of the embedded Kafka broker." default:"19092"`
	ClickHousePort int    `help:"Native port of the local ClickHouse." default:"19000" name:"clickhouse-port"`
	MetricsAddr    string `help:"Serve the metrics of every component, /healthz and /readyz (the whole stack's readiness) here (empty: off)." default:"127.0.0.1:9101"`
	GatewayAddr    string `help:"Serve the gateway (API and web form) here." default:"127.0.0.1:8080"`
	AlertAddr      string `help:"Serve the alert component's acknowledge links and API here." default:"127.0.0.1:9104"`
	SMTPAddr       string `help:"The demo's SMTP catcher, which writes .eml files." default:"127.0.0.1:2525" name:"smtp-addr"`
	ConsoleAddr    string `help:"With --serve, the officials' console here (demo accounts printed)." default:"127.0.0.1:9106"`
	Alerts         string `help:"Recipients and routes of the alert component." default:"deploy/local/alerts.yaml" type:"existingfile"`
	Plan           string `help:"Risk plan for the detector." default:"deploy/plans/default.yaml" type:"existingfile"`
	KeepData       bool   `help:"Keep what an earlier run left in the database instead of starting fresh."`
	Serve          bool   `help:"Keep the stack running after the demo until interrupted."`
}

// Run tells the demo story (internal/demo) on a simulated province.
func (c *localCmd) Run(e *env) error {
	sim, err := c.build(time.Now())
	if err != nil {
		return err
	}
	return demo.Run(e.ctx, sim, demo.Options{
		Dir: c.Dir, KafkaPort: c.KafkaPort, ClickHousePort: c.ClickHousePort, MetricsAddr: c.MetricsAddr,
		GatewayAddr: c.GatewayAddr, AlertAddr: c.AlertAddr, SMTPAddr: c.SMTPAddr, ConsoleAddr: c.ConsoleAddr, AlertsConfig: c.Alerts, Plan: c.Plan,
		KeepData: c.KeepData, Serve: c.Serve, Stdout: e.stdout, Stderr: e.stderr,
	}, e.log, e.reg)
}
