package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/layoffwatch/layoffwatch/alerts"
	"github.com/layoffwatch/layoffwatch/console"
	"github.com/layoffwatch/layoffwatch/gateway"
	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/kafkautil"
	"github.com/layoffwatch/layoffwatch/internal/localstack"
	"github.com/layoffwatch/layoffwatch/internal/region"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/simulate"
	"github.com/layoffwatch/layoffwatch/internal/stack"
)

// Options are `layoffwatch local`'s: where the servers listen and what the
// components read.
type Options struct {
	Dir            string // the local ClickHouse's data and logs, and the emails (Dir/mail)
	KafkaPort      int    // the embedded broker
	ClickHousePort int    // the local ClickHouse's native port
	MetricsAddr    string // /metrics, /healthz and /readyz of the whole stack; empty: off
	GatewayAddr    string // the gateway's API and web form
	AlertAddr      string // the alert component's acknowledge links and API
	SMTPAddr       string // the mail catcher, which writes .eml files
	ConsoleAddr    string // with Serve: the officials' console (its demo accounts are printed)
	AlertsConfig   string // recipients and routes
	Plan           string // the risk plan
	KeepData       bool   // keep what an earlier run left in the database
	Serve          bool   // keep everything running after the story, and the console beside it, until ctx ends

	Stdout io.Writer // the story
	Stderr io.Writer // progress bars (on a terminal)
}

// ErrInterrupted is returned when ctx ends before the story is told.
var ErrInterrupted = errors.New("interrupted")

// Run tells the demo story of a simulated province:
//
//	servers (localstack): ClickHouse, embedded Kafka; schema, registry, a bureau's token
//	stack: ingest + gateway ──▶ history back-filled to Kafka, the latest month
//	       through the gateway's API ──▶ every message stored
//	stack: alerts + detector ──▶ the plan evaluated ──▶ every alert event emailed
//	print: headcount by prefecture and month, warnings by level and rule
//	       (current ones, and old ones told in summaries), each planted
//	       event with what the detector raised, the emails
//	serve: stack: console ──▶ one account per level of government, printed
//
// The detector starts once everything is stored, so that its first pass
// sees the whole province (as after a bureau's migration), not a partial
// one. Stopping goes in reverse; the servers stop last.
func Run(ctx context.Context, sim *simulate.Simulation, opts Options, log *slog.Logger, reg *prometheus.Registry) error {
	start := time.Now()
	servers, err := localstack.StartStack(ctx, localstack.StackOptions{Dir: opts.Dir, KafkaPort: opts.KafkaPort, ClickHousePort: opts.ClickHousePort, Partitions: 3}, log)
	if err != nil {
		return err
	}
	defer func() {
		if err := servers.Close(); err != nil {
			log.Warn("stop local servers", "err", err)
		}
	}()
	so, err := stack.DefaultOptions()
	if err != nil {
		return err
	}
	so.Kafka.Brokers, so.Kafka.Partitions, so.Kafka.ReplicationFactor = servers.Kafka.Addrs(), 3, 1
	so.ClickHouse.Addr, so.ClickHouse.Database = servers.ClickHouse.Addr(), "layoffwatch"
	ch, err := prepareDB(ctx, so.ClickHouse, opts.KeepData, log)
	if err != nil {
		return err
	}
	defer ch.Close()
	if err := firms.NewStore(ch).Upsert(ctx, sim.Firms()); err != nil {
		return err
	}
	// The gateway, as firms reach it: a provincial bureau's token sends the
	// latest month; the months before are history back-filled to Kafka, as
	// when a bureau moves its past reports into layoffwatch.
	token, _, err := gateway.CreateToken(ctx, ch, gateway.Scope{Region: "620000"}, "demo: provincial bureau")
	if err != nil {
		return err
	}

	mailDir := filepath.Join(opts.Dir, "mail")
	_ = os.RemoveAll(mailDir)
	catcher, err := localstack.StartMailCatcher(opts.SMTPAddr, mailDir, log.With("component", "smtp"))
	if err != nil {
		return err
	}
	defer catcher.Close()
	smtpHost, smtpPort, _ := net.SplitHostPort(catcher.Addr())
	port, _ := strconv.Atoi(smtpPort)

	so.MetricsAddr = opts.MetricsAddr
	so.Ingest.BatchWait = 500 * time.Millisecond
	// the gateway limits tokens as the standalone one does (local --serve
	// leaves it running); the latest month goes in batches of
	// gateway.MaxBatch, a few requests, well within the defaults
	so.Gateway.Listen = opts.GatewayAddr
	so.Alerts.Config, so.Alerts.HTTPAddr = opts.AlertsConfig, opts.AlertAddr
	// the acknowledge-link secret is generated into the demo's directory
	so.Alerts.DataDir = filepath.Join(opts.Dir, "alerts")
	so.Alerts.Adjust = func(cfg *alerts.Config) {
		cfg.SetSMTP(smtpHost, port)
		cfg.SetAckBaseURL("http://" + opts.AlertAddr)
	}
	// the detector looks at every simulated month, from the first to the
	// current one (the province may end before last month: --end)
	// (those past the alert horizon are marked old history and reach
	// officials in one summary each)
	so.Detector.Plans, so.Detector.Poll = []string{opts.Plan}, 500*time.Millisecond
	months := int(report.PeriodOf(time.Now().In(report.Shanghai()))-sim.Options().Start) + 1
	so.Detector.Window, so.Detector.AlertMonths = max(36, months), months
	// the console (with --serve): the demo's plan for rule texts, its
	// session keys under the demo's directory, reminders to the catcher
	so.Console.Listen, so.Console.BaseURL, so.Console.Plans = opts.ConsoleAddr, "http://"+opts.ConsoleAddr, []string{opts.Plan}
	so.Console.DataDir = filepath.Join(opts.Dir, "console")
	so.Console.SMTPHost, so.Console.SMTPPort, so.Console.SMTPTLS, so.Console.SMTPNoTLSOkay = smtpHost, port, "none", true
	st := stack.New(so, log, reg)
	defer func() { _ = st.Stop() }()
	if err := st.Start(ctx, stack.Ingest, stack.Gateway); err != nil {
		return interrupted(ctx, err)
	}

	produced, accepted, err := sendReports(ctx, sim, so.Kafka, st.GatewayURL(), token, opts.Stderr, log)
	if err != nil {
		return interrupted(ctx, err)
	}
	distinct := 0
	for r := range sim.Reports {
		if r.Revision == 1 {
			distinct++
		}
	}
	fmt.Fprintf(opts.Stdout, "history (%s … %s): %d reports back-filled to Kafka; %s: %d reports through the gateway API at %s\n",
		sim.Options().Start, sim.End().Add(-1), produced-accepted, sim.End(), accepted, st.GatewayURL())
	log.Info("reports produced", "messages", produced, "firm_months", distinct)
	if err := wait(ctx, st, 5*time.Minute, func(p stack.Progress) bool { return p.Stored.Messages >= produced },
		func(p stack.Progress) string {
			return fmt.Sprintf("only %d of %d messages reached ClickHouse within 5 minutes", p.Stored.Messages, produced)
		}); err != nil {
		return err
	}

	if err := st.Start(ctx, stack.Alerts, stack.Detector); err != nil {
		return interrupted(ctx, err)
	}
	if err := wait(ctx, st, 2*time.Minute, func(p stack.Progress) bool { return p.Evaluations >= 1 },
		func(stack.Progress) string { return "the detector did not evaluate the plan within 2 minutes" }); err != nil {
		return err
	}
	fmt.Fprintf(opts.Stdout, "\nlayoffwatch demo: %d firms, %s … %s, %d reports (%d corrections) through Kafka into ClickHouse in %s\n\n",
		len(sim.Firms()), sim.Options().Start, sim.End(), produced, produced-distinct, time.Since(start).Round(100*time.Millisecond))
	ds := NewStore(ch)
	if err := printHeadcountTable(ctx, opts.Stdout, ds); err != nil {
		return err
	}
	// the alert component has emailed every event the detector emitted
	if err := wait(ctx, st, 2*time.Minute, func(p stack.Progress) bool { return p.Handled >= p.Emitted },
		func(p stack.Progress) string {
			return fmt.Sprintf("the alert component handled %d of %d alert events within 2 minutes", p.Handled, p.Emitted)
		}); err != nil {
		return err
	}
	if err := printWarnings(ctx, opts.Stdout, ds); err != nil {
		return err
	}
	if err := printEventsSeen(ctx, opts.Stdout, ds, sim.Events()); err != nil {
		return err
	}
	if err := printEmails(ctx, opts.Stdout, ds, catcher, sim.Events()); err != nil {
		return err
	}
	if err := printQuality(ctx, opts.Stdout, ds, sim, opts.Plan, opts.AlertsConfig); err != nil {
		return err
	}
	if opts.Serve {
		if err := serveConsole(ctx, st, ch, sim.Events(), opts.Stdout); err != nil {
			return interrupted(ctx, err)
		}
		fmt.Fprintf(opts.Stdout, "\nserving until interrupted: kafka %s, clickhouse %s (database %s), metrics http://%s/metrics\n",
			strings.Join(so.Kafka.Brokers, ","), so.ClickHouse.Addr, so.ClickHouse.Database, opts.MetricsAddr)
		<-ctx.Done()
	}
	return st.Stop()
}

// serveConsole starts the officials' console with one account per level
// of government around the first planted event's county (fresh passwords
// each run), and prints the accounts.
func serveConsole(ctx context.Context, st *stack.Stack, ch *chdb.Client, events []simulate.Event, w io.Writer) error {
	county := "620102"
	for _, e := range events {
		if region.LevelOf(e.Region) == region.County {
			county = e.Region
			break
		}
	}
	accounts, err := console.DemoAccounts(ctx, ch, county)
	if err != nil {
		return err
	}
	if err := st.Start(ctx, stack.Console); err != nil {
		return err
	}
	fmt.Fprint(w, "\n"+console.DemoTable(st.ConsoleURL(), accounts))
	return nil
}

// prepareDB drops the demo's database (unless keep), creates it and
// applies the migrations.
func prepareDB(ctx context.Context, opts chdb.Options, keep bool, log *slog.Logger) (*chdb.Client, error) {
	if !keep {
		if err := chdb.DropDatabase(ctx, opts, log); err != nil {
			return nil, fmt.Errorf("start fresh: %w", err)
		}
	}
	ch, err := chdb.Open(ctx, opts, log, true)
	if err != nil {
		return nil, err
	}
	if _, err := ch.Migrate(ctx); err != nil {
		_ = ch.Close()
		return nil, err
	}
	return ch, nil
}

// sendReports back-fills every month but the last to Kafka and submits the
// last through the gateway's API; it returns the messages produced in all
// and those the gateway accepted.
func sendReports(ctx context.Context, sim *simulate.Simulation, ko kafkautil.Options, gatewayURL, token string, stderr io.Writer, log *slog.Logger) (produced, accepted int, err error) {
	var history, latest []report.Report
	for r := range sim.Reports {
		if r.Period == sim.End() {
			latest = append(latest, r)
		} else {
			history = append(history, r)
		}
	}
	w := kafkautil.NewWriter(ko, "reports", log)
	produced, err = Produce(ctx, w, slices.Values(history), len(history), stderr)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, 0, err
	}
	client := &gateway.Client{BaseURL: gatewayURL, Token: token}
	accepted, _, err = client.Submit(ctx, latest)
	if err != nil {
		return 0, 0, fmt.Errorf("submit through the gateway: %w", err)
	}
	return produced + accepted, accepted, nil
}

// wait waits for cond, at most d; late says what did not happen in time.
func wait(ctx context.Context, st *stack.Stack, d time.Duration, cond func(stack.Progress) bool, late func(stack.Progress) string) error {
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	err := st.Wait(wctx, cond)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return errors.Join(ErrInterrupted, ctx.Err())
	case wctx.Err() != nil:
		return errors.New(late(st.Progress()))
	}
	return err
}

func interrupted(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return errors.Join(ErrInterrupted, ctx.Err())
	}
	return err
}
