package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/layoffwatch/layoffwatch/ingest"
	"github.com/layoffwatch/layoffwatch/internal/chdb"
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
	MetricsAddr    string `help:"Serve the ingest metrics here." default:"127.0.0.1:9101"`
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
	if err := ch.UpsertFirms(ctx, sim.Firms()); err != nil {
		return err
	}

	// ingest runs in this process, as `layoffwatch ingest` would
	ictx, cancelIngest := context.WithCancel(ctx)
	ingestDone := make(chan struct{})
	var ingestErr error
	go func() {
		defer close(ingestDone)
		ingestErr = ingest.Run(ictx, ingest.Options{
			Kafka: kOpts, ClickHouse: chOpts, Topic: "reports", DLQTopic: "reports.dlq", Group: "layoffwatch-ingest",
			BatchRows: 50000, BatchWait: 500 * time.Millisecond, SessionTimeout: 10 * time.Second,
			ShutdownGrace: 30 * time.Second, MetricsAddr: c.MetricsAddr, CreateTopics: true,
		}, e.log.With("component", "ingest"), e.reg)
	}()
	// However Run returns, ingest stops (flushing, committing) before the
	// stack it reads from and writes to goes away.
	stopIngest := func() error {
		cancelIngest()
		<-ingestDone
		return ingestErr
	}
	defer func() { _ = stopIngest() }()

	w := kafkautil.NewWriter(kOpts, "reports", e.log)
	produced, err := produceReports(ctx, w, sim, e.stderr)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	distinct := 0
	for r := range sim.Reports {
		if r.Revision == 1 {
			distinct++
		}
	}
	e.log.Info("reports produced", "messages", produced, "firm_months", distinct)
	if err := waitForRows(ctx, ch, uint64(distinct), ingestDone, &ingestErr); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "\nlayoffwatch demo: %d firms, %s … %s, %d reports (%d corrections) through Kafka into ClickHouse in %s\n\n",
		len(sim.Firms()), sim.Options().Start, sim.End(), produced, produced-distinct, time.Since(start).Round(100*time.Millisecond))
	if err := printHeadcountTable(ctx, e.stdout, ch); err != nil {
		return err
	}
	if err := printEventsSeen(ctx, e.stdout, ch, sim.Events()); err != nil {
		return err
	}
	if c.Serve {
		fmt.Fprintf(e.stdout, "\nserving until interrupted: kafka %s, clickhouse %s (database %s), metrics http://%s/metrics\n",
			strings.Join(kOpts.Brokers, ","), chOpts.Addr, chOpts.Database, c.MetricsAddr)
		<-ctx.Done()
	}
	if err := stopIngest(); err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	return nil
}

func (c *localCmd) prepareDB(ctx context.Context, opts chdb.Options, e *env) (*chdb.Client, error) {
	if !c.KeepData {
		admin, err := chdb.Open(ctx, chdb.Options{Addr: opts.Addr, Database: "default", User: opts.User, DialTimeout: opts.DialTimeout}, e.log, false)
		if err != nil {
			return nil, err
		}
		err = admin.Conn().Exec(ctx, "DROP DATABASE IF EXISTS "+opts.Database)
		_ = admin.Close()
		if err != nil {
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
func waitForRows(ctx context.Context, ch *chdb.Client, want uint64, ingestDone <-chan struct{}, ingestErr *error) error {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		var n uint64
		if err := ch.Conn().QueryRow(ctx, "SELECT count() FROM reports_latest").Scan(&n); err != nil {
			return fmt.Errorf("count reports: %w", err)
		}
		if n >= want {
			return nil
		}
		select {
		case <-ingestDone:
			return fmt.Errorf("ingest stopped early: %w", *ingestErr)
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
func printHeadcountTable(ctx context.Context, w io.Writer, ch *chdb.Client) error {
	rows, err := ch.HeadcountByPrefecture(ctx)
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
func printEventsSeen(ctx context.Context, w io.Writer, ch *chdb.Client, events []simulate.Event) error {
	if len(events) == 0 {
		return nil
	}
	regions := region.Gansu()
	fmt.Fprintln(w, "\nPlanted layoff events, and what ClickHouse holds for their firms:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "period\tkind\tcounty\tfirms\tplanted\tin ClickHouse\t")
	for _, ev := range events {
		before, after, err := eventHeadcounts(ctx, ch, ev)
		if err != nil {
			return err
		}
		name := ev.Region
		if r, ok := regions.Lookup(ev.Region); ok {
			name = ev.Region + " " + r.NameEn
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d → %d\t%d → %d\t\n", ev.Period, ev.Kind, name, len(ev.Firms), ev.Before(), ev.After(), before, after)
	}
	return tw.Flush()
}

func eventHeadcounts(ctx context.Context, ch *chdb.Client, ev simulate.Event) (before, after uint64, err error) {
	ids := make([]string, len(ev.Firms))
	for i, f := range ev.Firms {
		ids[i] = f.FirmID
	}
	first, last := ev.Period.Add(-1).Start().Format(time.DateOnly), ev.Period.Add(ev.Months-1).Start().Format(time.DateOnly)
	err = ch.Conn().QueryRow(ctx, `SELECT sumIf(headcount, period = toDate(?)), sumIf(headcount, period = toDate(?))
		FROM reports_latest WHERE has(?, firm_id)`, first, last, ids).Scan(&before, &after)
	if err != nil {
		return 0, 0, fmt.Errorf("event headcounts: %w", err)
	}
	return before, after, nil
}

var errInterrupted = errors.New("interrupted")
