package chdb_test

import (
	"context"
	"testing"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func firmID(body string) string { return body + string(report.CreditCheckChar(body)) }

func TestMigrateIsIdempotent(t *testing.T) {
	c := testenv.ClickHouse(t)
	ctx := context.Background()
	res, err := c.Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Applied) != 0 {
		t.Fatalf("second migrate applied %d migrations, want 0", len(res.Applied))
	}
	if err := c.RequireSchema(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestReportsLatestRevisionWins(t *testing.T) {
	c := testenv.ClickHouse(t)
	ctx := context.Background()
	a := firmID("91620102MA0000001")
	f := firms.Firm{ID: a, Name: "测试", Region: "620102", Industry: "C", BaselineHeadcount: 100}
	if err := firms.NewStore(c).Upsert(ctx, []firms.Firm{f}); err != nil {
		t.Fatal(err)
	}
	p := report.NewPeriod(2025, 3)
	var rows chdb.ReportRows
	now := time.Date(2025, 4, 2, 0, 0, 0, 0, time.UTC)
	rows.Add(report.Report{FirmID: a, Period: p, Headcount: 100, Revision: 1}, now, 0, 1)
	rows.Add(report.Report{FirmID: a, Period: p, Headcount: 90, Revision: 2}, now, 0, 2)
	rows.Add(report.Report{FirmID: a, Period: p, Headcount: 100, Revision: 1}, now, 0, 1) // redelivered
	if err := c.InsertReports(ctx, &rows); err != nil {
		t.Fatal(err)
	}
	// a second insert, as after a crash before the offset commit
	if err := c.InsertReports(ctx, &rows); err != nil {
		t.Fatal(err)
	}
	var n uint64
	var hc uint32
	if err := testenv.SQL(t, c.Options()).QueryRow(ctx, "SELECT count(), any(headcount) FROM reports_latest").Scan(&n, &hc); err != nil {
		t.Fatal(err)
	}
	if n != 1 || hc != 90 {
		t.Fatalf("reports_latest has %d rows with headcount %d, want 1 row with 90", n, hc)
	}
}
