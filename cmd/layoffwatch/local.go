package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/layoffwatch/layoffwatch/alerts"

	"github.com/layoffwatch/layoffwatch/detector"
	"github.com/layoffwatch/layoffwatch/gateway"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/layoffwatch/layoffwatch/console"
	"github.com/layoffwatch/layoffwatch/ingest"
	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/demo"
	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/kafkautil"
	"github.com/layoffwatch/layoffwatch/internal/localstack"
	"github.com/layoffwatch/layoffwatch/internal/region"
	"github.com/layoffwatch/layoffwatch/internal/simulate"
)

type localCmd struct {
	simOptions     `embed:""`
	Dir            string `help:"Where the local ClickHouse keeps its data and logs." default:".layoffwatch/local" type:"path"`
	KafkaPort      int    `help:"Port of the embedded Kafka broker." default:"19092"`
	ClickHousePort int    `help:"Native port of the local ClickHouse." default:"19000" name:"clickhouse-port"`
	MetricsAddr    string `help:"Serve the metrics of every component here." default:"127.0.0.1:9101"`
	GatewayAddr    string `help:"Serve the gateway (API and web form) here." default:"127.0.0.1:8080"`
	AlertAddr      string `help:"Serve the alert component's acknowledge links and API here." default:"127.0.0.1:9104"`
	SMTPAddr       string `help:"The demo's SMTP catcher, which writes .eml files." default:"127.0.0.1:2525" name:"smtp-addr"`
	ConsoleAddr    string `help:"With --serve, the officials' console here (demo accounts printed)." default:"127.0.0.1:9106"`
	Alerts         string `help:"Recipients and routes of the alert component." default:"deploy/local/alerts.yaml" type:"existingfile"`
	Plan           string `help:"Risk plan for the detector." default:"deploy/plans/default.yaml" type:"existingfile"`
	KeepData       bool   `help:"Keep what an earlier run left in the database instead of starting fresh."`
	Serve          bool   `help:"Keep the stack and ingest running after the demo until interrupted."`
}

// Run tells the demo story: simulate a province, push its reports through
// the embedded Kafka broker, ingest them into the local ClickHouse, and print
// headcount by prefecture and month, with the planted layoffs.
func (c *localCmd) Run(e *env) error {
	ctx := e.ctx
	start := time.Now()
	sim, err := c.build(start)
	if err != nil {
		return err
	}
	stack, err := localstack.StartStack(ctx, localstack.StackOptions{Dir: c.Dir, KafkaPort: c.KafkaPort, ClickHousePort: c.ClickHousePort, Partitions: 3}, e.log)
	if err != nil {
		return err
	}
	defer func() {
		if err := stack.Close(); err != nil {
			e.log.Warn("stop local stack", "err", err)
		}
	}()
	chOpts := chdb.Options{Addr: stack.ClickHouse.Addr(), Database: "layoffwatch", User: "default", DialTimeout: 5 * time.Second}
	kOpts := kafkautil.Options{Brokers: stack.Kafka.Addrs(), Partitions: 3, ReplicationFactor: 1}
	ch, err := c.prepareDB(ctx, chOpts, e)
	if err != nil {
		return err
	}
	defer ch.Close()
	if err := firms.NewStore(ch).Upsert(ctx, sim.Firms()); err != nil {
		return err
	}

	// ingest runs in this process, as `layoffwatch ingest` would; like every
	// component it stops (flushing, committing) before the stack goes away
	ingester := startBackground(ctx, func(ctx context.Context) error {
		return ingest.Run(ctx, ingest.Options{
			Kafka: kOpts, ClickHouse: chOpts, Topic: "reports", DLQTopic: "reports.dlq", Group: "layoffwatch-ingest",
			BatchRows: 50000, BatchWait: 500 * time.Millisecond, SessionTimeout: 10 * time.Second,
			ShutdownGrace: 30 * time.Second, MetricsAddr: c.MetricsAddr, CreateTopics: true,
		}, e.log.With("component", "ingest"), e.reg)
	})
	defer func() { _ = ingester.stop() }()

	// The gateway, as firms reach it: a provincial bureau's token sends the
	// latest month; the months before are history back-filled to Kafka, as
	// when a bureau moves its past reports into layoffwatch.
	token, _, err := gateway.CreateToken(ctx, ch, gateway.Scope{Region: "620000"}, "demo: provincial bureau")
	if err != nil {
		return err
	}
	gwOpts, err := gateway.DefaultOptions()
	if err != nil {
		return err
	}
	gwOpts.Kafka, gwOpts.ClickHouse, gwOpts.Listen, gwOpts.MetricsAddr = kOpts, chOpts, c.GatewayAddr, ""
	gwOpts.Rate, gwOpts.Burst = 1000, 1000
	gw, err := gateway.New(ctx, gwOpts, e.log.With("component", "gateway"), e.reg)
	if err != nil {
		return err
	}
	defer gw.Close()
	ln, err := net.Listen("tcp", c.GatewayAddr)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	gwRun := startBackground(ctx, func(ctx context.Context) error { return gw.Serve(ctx, ln) })
	defer func() { _ = gwRun.stop() }()

	var history, latest []report.Report
	for r := range sim.Reports {
		if r.Period == sim.End() {
			latest = append(latest, r)
		} else {
			history = append(history, r)
		}
	}
	w := kafkautil.NewWriter(kOpts, "reports", e.log)
	produced, err := produceReports(ctx, w, slices.Values(history), len(history), e.stderr)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	client := &gateway.Client{BaseURL: "http://" + ln.Addr().String(), Token: token}
	accepted, _, err := client.Submit(ctx, latest)
	if err != nil {
		return fmt.Errorf("submit through the gateway: %w", err)
	}
	produced += accepted
	distinct := 0
	for r := range sim.Reports {
		if r.Revision == 1 {
			distinct++
		}
	}
	fmt.Fprintf(e.stdout, "history (%s … %s): %d reports back-filled to Kafka; %s: %d reports through the gateway API at http://%s\n",
		sim.Options().Start, sim.End().Add(-1), produced-accepted, sim.End(), accepted, ln.Addr())
	e.log.Info("reports produced", "messages", produced, "firm_months", distinct)
	ds := demo.NewStore(ch)
	if err := waitForRows(ctx, ds, uint64(distinct), ingester); err != nil {
		return err
	}
	// the alert component emails the officials through the demo's SMTP
	// catcher, which writes every message to an .eml file
	mailDir := filepath.Join(c.Dir, "mail")
	_ = os.RemoveAll(mailDir)
	catcher, err := localstack.StartMailCatcher(c.SMTPAddr, mailDir, e.log.With("component", "smtp"))
	if err != nil {
		return err
	}
	defer catcher.Close()
	smtpHost, smtpPort, _ := net.SplitHostPort(catcher.Addr())
	port, _ := strconv.Atoi(smtpPort)
	alertReg := prometheus.NewRegistry()
	alerter := startBackground(ctx, func(ctx context.Context) error {
		return alerts.Run(ctx, alerts.Options{Kafka: kOpts, ClickHouse: chOpts, Config: c.Alerts, Plan: c.Plan, Topic: "alerts",
			Group: "layoffwatch-alert", HTTPAddr: c.AlertAddr, EscalationCheck: 30 * time.Second, SessionTimeout: 10 * time.Second, DataDir: filepath.Join(c.Dir, "alerts"),
			Adjust: func(cfg *alerts.Config) {
				cfg.SetSMTP(smtpHost, port)
				cfg.SetAckBaseURL("http://" + c.AlertAddr)
			}}, e.log.With("component", "alert"), alertReg)
	})
	defer func() { _ = alerter.stop() }()

	// the detector evaluates the plan over the ingested months
	detectReg := prometheus.NewRegistry()
	detect := startBackground(ctx, func(ctx context.Context) error {
		return detector.Run(ctx, detector.Options{Kafka: kOpts, ClickHouse: chOpts, Plan: c.Plan, Topic: "alerts",
			Poll: 500 * time.Millisecond, Interval: time.Minute, Window: max(36, c.Months+1), AlertMonths: c.Months + 1,
			DeadlineDay: report.DefaultDeadlineDay}, e.log.With("component", "detect"), detectReg)
	})
	defer func() { _ = detect.stop() }()
	if err := waitForPass(ctx, detectReg, detect); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "\nlayoffwatch demo: %d firms, %s … %s, %d reports (%d corrections) through Kafka into ClickHouse in %s\n\n",
		len(sim.Firms()), sim.Options().Start, sim.End(), produced, produced-distinct, time.Since(start).Round(100*time.Millisecond))
	if err := printHeadcountTable(ctx, e.stdout, ds); err != nil {
		return err
	}
	if err := waitForEmails(ctx, ds, alertReg, catcher, alerter); err != nil {
		return err
	}
	if err := printWarnings(ctx, e.stdout, ds); err != nil {
		return err
	}
	if err := printEventsSeen(ctx, e.stdout, ds, sim.Events()); err != nil {
		return err
	}
	if err := printEmails(ctx, e.stdout, ds, catcher, sim.Events()); err != nil {
		return err
	}
	if c.Serve {
		con, err := c.startConsole(ctx, ch, chOpts, sim.Events(), smtpHost, port, e)
		if err != nil {
			return err
		}
		defer func() { _ = con.stop() }()
		fmt.Fprintf(e.stdout, "\nserving until interrupted: kafka %s, clickhouse %s (database %s), metrics http://%s/metrics\n",
			strings.Join(kOpts.Brokers, ","), chOpts.Addr, chOpts.Database, c.MetricsAddr)
		<-ctx.Done()
	}
	if err := detect.stop(); err != nil {
		return fmt.Errorf("detect: %w", err)
	}
	if err := alerter.stop(); err != nil {
		return fmt.Errorf("alert: %w", err)
	}
	if err := gwRun.stop(); err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	if err := ingester.stop(); err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	return nil
}

// startConsole serves the officials' console on the demo's database, with
// one account per level of government around the first planted event's
// county, and prints them.
func (c *localCmd) startConsole(ctx context.Context, ch *chdb.Client, chOpts chdb.Options, events []simulate.Event, smtpHost string, smtpPort int, e *env) (*background, error) {
	county := "620102"
	if len(events) > 0 && events[0].Region != "" {
		county = events[0].Region
	}
	accounts, err := console.DemoAccounts(ctx, ch, county)
	if err != nil {
		return nil, err
	}
	opts := console.DefaultOptions()
	opts.ClickHouse, opts.Listen, opts.MetricsAddr, opts.Plan = chOpts, c.ConsoleAddr, "", c.Plan
	opts.BaseURL, opts.DataDir = "http://"+c.ConsoleAddr, filepath.Join(c.Dir, "console")
	opts.SMTPHost, opts.SMTPPort, opts.SMTPTLS, opts.SMTPNoTLSOkay = smtpHost, smtpPort, "none", true
	con, err := console.New(ctx, opts, ch, e.log.With("component", "console"), prometheus.NewRegistry())
	if err != nil {
		return nil, err
	}
	fmt.Fprint(e.stdout, "\n"+console.DemoTable(opts.BaseURL, accounts))
	return startBackground(ctx, con.Serve), nil
}

// background is a component running in this process.
type background struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

func startBackground(ctx context.Context, run func(context.Context) error) *background {
	ctx, cancel := context.WithCancel(ctx)
	b := &background{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(b.done)
		b.err = run(ctx)
	}()
	return b
}

// stop ends the component and waits for it; calling it again is harmless.
func (b *background) stop() error {
	b.cancel()
	<-b.done
	return b.err
}

// waitForPass waits until the detector has evaluated the plan once.
func waitForPass(ctx context.Context, reg *prometheus.Registry, detect *background) error {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		mfs, err := reg.Gather()
		if err != nil {
			return fmt.Errorf("detector metrics: %w", err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "layoffwatch_detect_passes_total" && len(mf.GetMetric()) > 0 && mf.GetMetric()[0].GetCounter().GetValue() >= 1 {
				return nil
			}
		}
		select {
		case <-detect.done:
			return fmt.Errorf("detector stopped early: %w", detect.err)
		case <-ctx.Done():
			return errors.Join(errInterrupted, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	return errors.New("the detector did not evaluate the plan within 2 minutes")
}

// printWarnings prints the open warnings by level and rule.
func printWarnings(ctx context.Context, w io.Writer, ds *demo.Store) error {
	counts, err := ds.Warnings(ctx)
	if err != nil {
		return err
	}
	byLevel := map[string]uint64{}
	var lines []string
	for _, c := range counts {
		byLevel[c.A] += c.N
		lines = append(lines, fmt.Sprintf("  %-4s %-18s %6d", c.A, c.B, c.N))
	}
	fmt.Fprintf(w, "\nWarnings raised by the detector (plan rules, all months): I %d · II %d · III %d · IV %d\n",
		byLevel["I"], byLevel["II"], byLevel["III"], byLevel["IV"])
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	return nil
}

func (c *localCmd) prepareDB(ctx context.Context, opts chdb.Options, e *env) (*chdb.Client, error) {
	if !c.KeepData {
		if err := chdb.DropDatabase(ctx, opts, e.log); err != nil {
			return nil, fmt.Errorf("start fresh: %w", err)
		}
	}
	ch, err := chdb.Open(ctx, opts, e.log, true)
	if err != nil {
		return nil, err
	}
	if _, err := ch.Migrate(ctx); err != nil {
		_ = ch.Close()
		return nil, err
	}
	return ch, nil
}

// waitForRows waits until reports_latest holds want rows.
func waitForRows(ctx context.Context, ds *demo.Store, want uint64, ingester *background) error {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		n, err := ds.StoredReports(ctx)
		if err != nil {
			return err
		}
		if n >= want {
			return nil
		}
		select {
		case <-ingester.done:
			return fmt.Errorf("ingest stopped early: %w", ingester.err)
		case <-ctx.Done():
			return errors.Join(errInterrupted, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d reports reached ClickHouse within 5 minutes", n, want)
		}
	}
}

// printHeadcountTable prints the monitored sample's headcount by month
// (rows) and prefecture (columns).
func printHeadcountTable(ctx context.Context, w io.Writer, ds *demo.Store) error {
	rows, err := ds.HeadcountByPrefecture(ctx)
	if err != nil {
		return err
	}
	regions := region.Gansu()
	prefs := regions.Prefectures()
	cell := map[string]map[string]uint64{}
	var months []string
	for _, r := range rows {
		m := r.Period.Format("2006-01")
		if cell[m] == nil {
			cell[m] = map[string]uint64{}
			months = append(months, m)
		}
		cell[m][r.Prefecture] += r.Headcount
	}
	sortStrings(months)
	fmt.Fprintln(w, "Headcount of the monitored sample by prefecture and month (latest revisions, from ClickHouse):")
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', tabwriter.AlignRight)
	head := []string{"month"}
	for _, p := range prefs {
		head = append(head, shortName(p.NameEn))
	}
	fmt.Fprintln(tw, strings.Join(append(head, "Gansu", ""), "\t"))
	for _, m := range months {
		line := []string{m}
		var total uint64
		for _, p := range prefs {
			v := cell[m][p.Code]
			total += v
			line = append(line, fmt.Sprint(v))
		}
		fmt.Fprintln(tw, strings.Join(append(line, fmt.Sprint(total), ""), "\t"))
	}
	return tw.Flush()
}

func shortName(en string) string {
	if i := strings.Index(en, " "); i > 0 {
		en = en[:i]
	}
	if len(en) > 9 {
		en = en[:9]
	}
	return en
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// printEventsSeen lists the planted events with the headcounts ClickHouse
// holds for their firms before and after.
func printEventsSeen(ctx context.Context, w io.Writer, ds *demo.Store, events []simulate.Event) error {
	if len(events) == 0 {
		return nil
	}
	regions := region.Gansu()
	fmt.Fprintln(w, "\nPlanted layoff events, what ClickHouse holds for their firms, and what the detector raised:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "period\tkind\tcounty\tfirms\tplanted\tin ClickHouse\tdetector warnings\t")
	for _, ev := range events {
		before, after, err := eventHeadcounts(ctx, ds, ev)
		if err != nil {
			return err
		}
		name := ev.Region
		if r, ok := regions.Lookup(ev.Region); ok {
			name = ev.Region + " " + r.NameEn
		}
		warnings, err := eventWarnings(ctx, ds, ev)
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d → %d\t%d → %d\t%s\t\n", ev.Period, ev.Kind, name, len(ev.Firms), ev.Before(), ev.After(), before, after, warnings)
	}
	return tw.Flush()
}

// eventWarnings lists the warnings of the event's first month about its
// firms or its county, as rule:level.
func eventWarnings(ctx context.Context, ds *demo.Store, ev simulate.Event) (string, error) {
	keys := []string{ev.Region}
	for _, f := range ev.Firms {
		keys = append(keys, f.FirmID)
	}
	counts, err := ds.EventWarnings(ctx, keys, ev.Period.Start())
	if err != nil {
		return "", err
	}
	var out []string
	for _, c := range counts {
		s := c.A + ":" + c.B
		if c.N > 1 {
			s += fmt.Sprintf("×%d", c.N)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return "NOT FOUND", nil
	}
	return strings.Join(out, " "), nil
}

func eventHeadcounts(ctx context.Context, ds *demo.Store, ev simulate.Event) (before, after uint64, err error) {
	ids := make([]string, len(ev.Firms))
	for i, f := range ev.Firms {
		ids[i] = f.FirmID
	}
	return ds.EventHeadcounts(ctx, ids, ev.Period.Add(-1).Start(), ev.Period.Add(ev.Months-1).Start())
}

var errInterrupted = errors.New("interrupted")

// waitForEmails waits until the alert component has handled every alert
// event the detector emitted and the mail catcher has been quiet a moment.
func waitForEmails(ctx context.Context, ds *demo.Store, reg *prometheus.Registry, catcher *localstack.MailCatcher, alerter *background) error {
	emitted, err := ds.AlertEvents(ctx)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(2 * time.Minute)
	last, stableSince := -1, time.Now()
	for time.Now().Before(deadline) {
		handled := 0.0
		mfs, err := reg.Gather()
		if err != nil {
			return err
		}
		for _, mf := range mfs {
			if mf.GetName() == "layoffwatch_alert_events_total" {
				for _, m := range mf.GetMetric() {
					handled += m.GetCounter().GetValue()
				}
			}
		}
		n, _ := catcher.Count()
		if n != last {
			last, stableSince = n, time.Now()
		}
		// every email logged as about to be sent has its outcome logged too
		pending, settled, err := ds.EmailState(ctx)
		if err != nil {
			return err
		}
		if uint64(handled) >= emitted && pending == settled && time.Since(stableSince) > 2*time.Second {
			return nil
		}
		select {
		case <-alerter.done:
			return fmt.Errorf("alert component stopped early: %w", alerter.err)
		case <-ctx.Done():
			return errors.Join(errInterrupted, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	return errors.New("the alert component did not finish within 2 minutes")
}

// printEmails says where the emails are and shows those about the planted
// events.
func printEmails(ctx context.Context, w io.Writer, ds *demo.Store, catcher *localstack.MailCatcher, events []simulate.Event) error {
	n, _ := catcher.Count()
	counts, err := ds.Emails(ctx)
	if err != nil {
		return err
	}
	var parts []string
	for _, c := range counts {
		parts = append(parts, fmt.Sprintf("%s %s %d", c.A, c.B, c.N))
	}
	fmt.Fprintf(w, "\nEmails to officials: %d messages written to %s (open them with any mail program)\n", n, catcher.Dir)
	fmt.Fprintf(w, "  notification log: %s\n", strings.Join(parts, " · "))
	files, _ := filepath.Glob(filepath.Join(catcher.Dir, "*.eml"))
	shown := 0
	for _, ev := range events {
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil || !bytes.Contains(b, []byte(ev.Firms[0].FirmID)) {
				continue
			}
			msg, err := mail.ReadMessage(bytes.NewReader(b))
			if err != nil {
				continue
			}
			subj, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
			to, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("To"))
			fmt.Fprintf(w, "  %s  to %s\n      %s\n", filepath.Base(f), to, subj)
			shown++
			break
		}
		if shown >= 6 {
			break
		}
	}
	return nil
}
