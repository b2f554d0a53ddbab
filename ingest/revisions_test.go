package ingest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

// TestDuplicateRevision: the same (firm, period, revision) with other
// content is refused as duplicate_revision (DLQ and rejects, like any
// refusal) whether the first copy is in the same batch or was stored long
// ago (even after the reports table merged it away); identical content is
// stored again harmlessly; and reading the whole topic again, as after a
// crash before the commit, changes nothing.
func TestDuplicateRevision(t *testing.T) {
	s, ids := newStack(t, 5)
	a, b, c, d := ids[0], ids[1], ids[2], ids[3]
	p := report.NewPeriod(2025, 6)
	at := time.Date(2025, 7, 2, 9, 0, 0, 0, time.UTC)
	rep := func(firm string, rev, headcount uint32) report.Report {
		return report.Report{FirmID: firm, Period: p, Revision: rev, Headcount: headcount, Vacancies: 3, ReportedAt: at}
	}
	later := func(r report.Report) report.Report { r.ReportedAt = r.ReportedAt.Add(time.Hour); return r }
	msg := func(r report.Report) kafka.Message { return reportMsg(t, r) }

	produce(t, s.kafka.Addrs(), "reports",
		msg(rep(a, 1, 100)),
		msg(later(rep(a, 1, 100))), // the same content, reported again: stored again, harmless
		msg(rep(a, 1, 101)),        // other content, same batch: refused
		msg(rep(b, 1, 200)),
		msg(rep(c, 1, 300)),
		msg(rep(a, 2, 90)),
	)
	stop := startIngest(t, s.opts)
	rejects := func(want uint64) {
		t.Helper()
		testenv.WaitFor(t, fmt.Sprintf("%d refusals", want), 60*time.Second, func() (bool, string) {
			n := count(t, s.ch, "SELECT count() FROM rejects FINAL")
			return n == want, fmt.Sprint(n)
		})
	}
	rejects(1)
	testenv.WaitFor(t, "first batch stored", 60*time.Second, func() (bool, string) {
		n := count(t, s.ch, "SELECT count() FROM reports_latest")
		return n == 3, fmt.Sprint(n)
	})
	// merges keep only the latest revision of a firm-month in reports: what
	// was stored must still be known
	if err := testenv.SQL(t, s.ch.Options()).Exec(context.Background(), "OPTIMIZE TABLE reports FINAL"); err != nil {
		t.Fatal(err)
	}
	produce(t, s.kafka.Addrs(), "reports",
		msg(rep(b, 1, 201)),        // other content than stored: refused
		msg(later(rep(b, 1, 200))), // the stored content: fine
		msg(rep(a, 1, 102)),        // an old revision with other content, merged away in reports: refused
		msg(rep(c, 1, 301)),        // refused, although the stored copy follows it in the batch
		msg(rep(c, 1, 300)),
	)
	rejects(4)
	check := func(revisions uint64) {
		t.Helper()
		if n := count(t, s.ch, "SELECT count() FROM rejects FINAL WHERE reason = ? AND field = 'revision'", report.ReasonDuplicateRevision); n != 4 {
			t.Errorf("%d duplicate_revision refusals, want 4", n)
		}
		for firm, want := range map[string]uint32{a: 90, b: 200, c: 300} {
			if n := count(t, s.ch, "SELECT count() FROM reports_latest WHERE firm_id = ? AND headcount = ?", firm, want); n != 1 {
				t.Errorf("firm %s: stored headcount is not %d", firm, want)
			}
		}
		if n := count(t, s.ch, "SELECT uniqExact(firm_id, revision, content_hash) FROM report_revisions"); n != revisions {
			t.Errorf("report_revisions holds %d distinct (firm, revision, content), want %d", n, revisions)
		}
	}
	check(4)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	dlq := kafka.NewReader(kafka.ReaderConfig{Brokers: s.kafka.Addrs(), GroupID: "dlq-check", Topic: "reports.dlq", StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond})
	defer dlq.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := 0; i < 4; i++ {
		m, err := dlq.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("dlq message %d: %v", i+1, err)
		}
		if r := header(m, "reason"); r != report.ReasonDuplicateRevision {
			t.Errorf("dlq message %d: reason %q", i+1, r)
		}
	}

	// redelivery: another group reads the whole topic again
	opts := s.opts
	opts.Group = "ingest-again"
	startIngest(t, opts)
	produce(t, s.kafka.Addrs(), "reports", msg(rep(d, 1, 400)))
	testenv.WaitFor(t, "the topic read again", 60*time.Second, func() (bool, string) {
		n := count(t, s.ch, "SELECT count() FROM reports_latest WHERE firm_id = ?", d)
		return n == 1, fmt.Sprint(n)
	})
	if n := count(t, s.ch, "SELECT count() FROM rejects FINAL"); n != 4 {
		t.Errorf("after reading again: %d refusals, want the same 4", n)
	}
	check(5) // and d's
}

func header(m kafka.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// TestDuplicateRevisionLargeBatch: the duplicate check of a batch of
// thousands of firms (its keys are ~100 KB of query text, above
// ClickHouse's default max_query_size once a batch is ~10,000 rows) refuses
// exactly the revisions stored with other content.
func TestDuplicateRevisionLargeBatch(t *testing.T) {
	const n = 12000
	s, ids := newStack(t, n)
	s.opts.BatchRows, s.opts.BatchWait = 20000, 2*time.Second
	p := report.NewPeriod(2025, 6)
	at := time.Date(2025, 7, 2, 9, 0, 0, 0, time.UTC)
	rep := func(firm string, headcount uint32) report.Report {
		return report.Report{FirmID: firm, Period: p, Revision: 1, Headcount: headcount, Vacancies: 3, ReportedAt: at}
	}
	var first, second []kafka.Message
	for i, id := range ids {
		first = append(first, reportMsg(t, rep(id, 100)))
		headcount := uint32(100) // the same content: stored again, harmless
		if i%3 == 0 {
			headcount = 101 // other content: refused
		}
		second = append(second, reportMsg(t, rep(id, headcount)))
	}
	produce(t, s.kafka.Addrs(), "reports", first...)
	startIngest(t, s.opts)
	testenv.WaitFor(t, "the first reports stored", 120*time.Second, func() (bool, string) {
		got := count(t, s.ch, "SELECT count() FROM report_revisions")
		return got == n, fmt.Sprint(got)
	})
	produce(t, s.kafka.Addrs(), "reports", second...)
	testenv.WaitFor(t, "a third refused", 120*time.Second, func() (bool, string) {
		got := count(t, s.ch, "SELECT count() FROM rejects FINAL WHERE reason = ?", report.ReasonDuplicateRevision)
		return got == n/3, fmt.Sprint(got)
	})
	testenv.WaitFor(t, "every message consumed", 120*time.Second, func() (bool, string) {
		got := count(t, s.ch, "SELECT count() FROM reports")
		return got >= n+n-n/3, fmt.Sprint(got)
	})
	if got := count(t, s.ch, "SELECT count() FROM reports_latest WHERE headcount != 100"); got != 0 {
		t.Errorf("%d reports stored with the refused content", got)
	}
	if got := count(t, s.ch, "SELECT count() FROM rejects FINAL"); got != n/3 {
		t.Errorf("%d refusals, want %d", got, n/3)
	}
}
