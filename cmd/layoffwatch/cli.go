package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kong"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/layoffwatch/layoffwatch/internal/obs"
)

// version and revision are set at build time with -ldflags
// "-X main.version=... -X main.revision=..." (the Dockerfile's VERSION and
// REVISION); without them the build information Go records says what it
// can (obs.ReadBuild).
var (
	version  = "dev"
	revision = ""
)

// env is what every subcommand gets: I/O, a logger, a metrics registry and
// the process context, which ends on SIGINT or SIGTERM.
type env struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	log    *slog.Logger
	reg    *prometheus.Registry
}

type cli struct {
	LogLevel  string `help:"Log level: debug, info, warn, error." default:"info"`
	LogFormat string `help:"Log format: text or json." default:"text" enum:"text,json"`
	// --version, as the version command: the release, the revision and the Go
	// version the binary was built with.
	PrintVersion kong.VersionFlag `name:"version" help:"Print the version (release, revision, Go version) and exit."`

	Validate    validateCmd    `cmd:"" help:"Check reports (JSON lines) offline against the firm registry; one verdict per line."`
	Migrate     migrateCmd     `cmd:"" help:"Create or upgrade the ClickHouse schema."`
	Ingest      ingestCmd      `cmd:"" help:"Consume the reports topic into ClickHouse."`
	Firms       firmsCmd       `cmd:"" help:"Manage the registry of monitored firms."`
	Simulate    simulateCmd    `cmd:"" help:"Generate a synthetic province: firms.csv and monthly reports."`
	Local       localCmd       `cmd:"" help:"Run the pipeline on the embedded defaults (embedded Kafka, local ClickHouse) and tell the demo story."`
	Gateway     gatewayCmd     `cmd:"" help:"Serve the HTTP gateway: firms submit reports (API, CSV upload, web form) onto the reports topic."`
	Tokens      tokensCmd      `cmd:"" help:"Manage the gateway's API tokens."`
	Detect      detectCmd      `cmd:"" help:"Evaluate the risk plan as reports land and emit alert state changes."`
	Alert       alertCmd       `cmd:"" help:"Email alerts to officials: routing, grouping, acknowledgement, escalation, silences."`
	Alerts      alertsCmd      `cmd:"" help:"List and acknowledge open alerts."`
	Silences    silencesCmd    `cmd:"" help:"Mute alerts for a while, with author and reason."`
	Plan        planCmd        `cmd:"" help:"Check risk plans and test them on past reports."`
	Secrets     secretsCmd     `cmd:"" help:"Generate the compose stack's secrets into a directory (once; never printed)."`
	Console     consoleCmd     `cmd:"" help:"Serve the console where officials acknowledge, verify, respond to and close warnings (预警处置)."`
	Users       usersCmd       `cmd:"" help:"Manage the console's accounts: roles and regions."`
	Healthcheck healthcheckCmd `cmd:"" help:"Exit 0 when a component's /readyz answers OK; otherwise name the dependency that failed (for container health checks)."`
	Version     versionCmd     `cmd:"" help:"Print the version."`

	// provinces as tenants: their ClickHouse users, Grafana orgs and folders
	GrafanaTenants grafanaTenantsCmd `cmd:"" name:"grafana-tenants" help:"Generate per-province ClickHouse users (row filters), the data sources and folders of the provinces' Grafana orgs, and the compose override that wires them."`
}

// exitError carries an exit status other than 1.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func newParser(c *cli, stdout, stderr io.Writer) (*kong.Kong, error) {
	return kong.New(c,
		kong.Name("layoffwatch"),
		kong.Description("Early warning of large-scale layoffs: monthly reports of monitored firms → Kafka → ClickHouse → risk-plan detector → alerts.\nEvery flag can also be set by an environment variable LAYOFFWATCH_<FLAG> (shown in --help)."),
		kong.DefaultEnvars("LAYOFFWATCH"),
		simVars(),
		kong.Vars{"version": versionLine()},
		kong.UsageOnError(),
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { panic(exitError{code}) }),
	)
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var c cli
	parser, err := newParser(&c, stdout, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "layoffwatch:", err)
		return 2
	}
	code := func() (code int) {
		defer func() {
			if r := recover(); r != nil {
				e, ok := r.(exitError)
				if !ok {
					panic(r)
				}
				code = e.code
			}
		}()
		kctx, err := parser.Parse(args)
		if err != nil {
			parser.Errorf("%s", err)
			return 2
		}
		log, err := obs.NewLogger(stderr, c.LogFormat, c.LogLevel)
		if err != nil {
			fmt.Fprintln(stderr, "layoffwatch:", err)
			return 2
		}
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		reg, err := newRegistry()
		if err != nil {
			fmt.Fprintln(stderr, "layoffwatch:", err)
			return 2
		}
		e := &env{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr, log: log, reg: reg}
		if err := kctx.Run(e); err != nil {
			var ee exitError
			if errors.As(err, &ee) {
				return ee.code
			}
			fmt.Fprintln(stderr, "layoffwatch:", err)
			return 1
		}
		return 0
	}()
	return code
}

// newRegistry is the metrics registry every command serves: the Go and
// process collectors and layoffwatch_build_info.
func newRegistry() (*prometheus.Registry, error) {
	reg := obs.NewRegistry()
	if err := obs.RegisterBuildInfo(reg, obs.ReadBuild(version, revision)); err != nil {
		return nil, err
	}
	return reg, nil
}

// versionLine is what --version and the version command print.
func versionLine() string { return "layoffwatch " + obs.ReadBuild(version, revision).String() }

type versionCmd struct{}

func (versionCmd) Run(e *env) error {
	_, err := fmt.Fprintln(e.stdout, versionLine())
	return err
}
