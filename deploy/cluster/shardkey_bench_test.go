package cluster_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/simulate"
)

// shardKeys are the two sharding keys compared: the firm hash layoffwatch
// uses (migration 0013), and the prefecture — the 4 digits of the county
// code a unified social credit code carries at positions 3–6 (in the
// simulation, always the firm's own county; in production a report would
// have to carry its firm's prefecture from the registry).
var shardKeys = []struct{ name, table, key string }{
	{"firm hash", "sk_firm", "cityHash64(firm_id)"},
	{"prefecture", "sk_pref", "cityHash64(substring(firm_id, 3, 4))"},
}

// BenchmarkShardKey compares on the 2-shard cluster a Distributed reports
// table sharded by firm hash with one sharded by prefecture: Gansu
// (BENCH_SHARDKEY_FIRMS firms, 200,000 by default, × 24 months; Lanzhou
// holds about a third of the firms), the same batches inserted into both
// (interleaved, insert_distributed_sync as ingest does), the rows on each
// shard, and the time of the region aggregates the dashboards and the
// detector run, through each Distributed table. Run by `make bench-scale`.
func BenchmarkShardKey(b *testing.B) {
	nFirms := envInt(b, "BENCH_SHARDKEY_FIRMS", 200_000)
	const months = 24
	ctx := context.Background()
	c := startBenchCluster(b, envInt(b, "BENCH_SCALE_REPLICAS", 1))
	cl := openCluster(b, c)
	if _, err := cl.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	node := open(b, c.Addrs()[0])
	for _, k := range shardKeys {
		for _, q := range []string{
			fmt.Sprintf(`CREATE TABLE layoffwatch.%s ON CLUSTER lw AS layoffwatch.reports
				ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/bench/%s', '{replica}', revision)
				PARTITION BY toYear(period) ORDER BY (firm_id, period)`, k.table, k.table),
			fmt.Sprintf(`CREATE TABLE layoffwatch.%s_all ON CLUSTER lw AS layoffwatch.%s
				ENGINE = Distributed(lw, layoffwatch, %s, %s)`, k.table, k.table, k.table, k.key),
		} {
			if err := node.Exec(ctx, q); err != nil {
				b.Fatalf("%s: %v", q, err)
			}
		}
	}

	end := report.PeriodOf(time.Now().In(report.Shanghai()))
	opts := simulate.DefaultOptions()
	opts.Seed, opts.Firms, opts.Months, opts.Start = 1, nFirms, months, end.Add(1-months)
	sim, err := simulate.New(opts)
	if err != nil {
		b.Fatal(err)
	}
	list := sim.Firms()
	for j := 0; j < len(list); j += 100_000 {
		if err := firms.NewStore(cl).Upsert(ctx, list[j:min(j+100_000, len(list))]); err != nil {
			b.Fatal(err)
		}
	}
	prefFirms := map[string]int{}
	for _, f := range list {
		prefFirms[f.Prefecture()]++
	}
	// every node must see the registry (the queries join it locally)
	for _, a := range c.Addrs() {
		syncReplica(b, a, "firms")
	}

	insCtx := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"insert_distributed_sync": 1}))
	insertInto := func(table string, rows *chdb.ReportRows) time.Duration {
		t := time.Now()
		batch, err := node.PrepareBatch(insCtx, "INSERT INTO layoffwatch."+table+` (firm_id, period, revision, headcount, vacancies, hires,
			sep_economic_layoff, sep_closure_bankruptcy, sep_suspension, sep_contract_expiry,
			sep_resignation, sep_retirement, sep_transfer, sep_other,
			reported_at, note, ingested_at, kafka_partition, kafka_offset)`)
		if err != nil {
			b.Fatal(err)
		}
		for i, col := range rows.Columns() {
			if err := batch.Column(i).Append(col); err != nil {
				b.Fatal(err)
			}
		}
		if err := batch.Send(); err != nil {
			b.Fatalf("insert into %s: %v", table, err)
		}
		return time.Since(t)
	}
	insertTime := make([]time.Duration, len(shardKeys))
	var rows chdb.ReportRows
	n := 0
	at := time.Now()
	flush := func() {
		// alternate which table goes first, so neither always meets the
		// merges the other's insert started
		for j := range shardKeys {
			i := (j + n/100_000) % len(shardKeys)
			insertTime[i] += insertInto(shardKeys[i].table+"_all", &rows)
		}
		rows.Reset()
	}
	for r := range sim.Reports {
		rows.Add(r, at, 0, int64(n))
		n++
		if rows.Len() == 100_000 {
			flush()
		}
	}
	if rows.Len() > 0 {
		flush()
	}
	biggest, bigN := "", 0
	for p, k := range prefFirms {
		if k > bigN || (k == bigN && p < biggest) {
			biggest, bigN = p, k
		}
	}
	fmt.Printf("\nbench-scale, sharding key: Gansu, %d firms × %d months = %d reports, 2 shards (%s); biggest prefecture %s with %d firms (%.0f%%) of %d prefectures\n",
		len(list), months, n, uptime(), biggest, bigN, 100*float64(bigN)/float64(len(list)), len(prefFirms))

	latest := end.Start()
	queries := []struct{ name, sql string }{
		{"province headcount, latest month (dashboard stat)",
			`SELECT sum(headcount) FROM layoffwatch.{T} FINAL WHERE period = toDate('{latest}')`},
		{"biggest prefecture's headcount, latest month (dashboard stat)",
			`SELECT sum(headcount) FROM layoffwatch.{T} FINAL WHERE period = toDate('{latest}')
				AND firm_id IN (SELECT firm_id FROM layoffwatch.firms FINAL WHERE prefecture = '{pref}')`},
		{"headcount by prefecture × month, 24 months (dashboard series)",
			`SELECT prefecture, period, sum(headcount) AS h FROM layoffwatch.{T} FINAL
				ALL INNER JOIN (SELECT firm_id, prefecture FROM layoffwatch.firms FINAL) AS f USING firm_id
				GROUP BY prefecture, period ORDER BY prefecture, period`},
		{"biggest prefecture's loss rate, latest month (dashboard stat)",
			`SELECT (sum(hp) - sum(h)) / sum(hp) FROM (SELECT firm_id,
				sumIf(headcount, period = toDate('{latest}')) AS h, sumIf(headcount, period = addMonths(toDate('{latest}'), -1)) AS hp
				FROM layoffwatch.{T} FINAL WHERE period >= addMonths(toDate('{latest}'), -1)
				AND firm_id IN (SELECT firm_id FROM layoffwatch.firms FINAL WHERE prefecture = '{pref}') GROUP BY firm_id) AS t1`},
		{"biggest prefecture's reports streamed (detect replica's read)",
			`SELECT firm_id, period, revision, headcount, vacancies, hires, ingested_at FROM layoffwatch.{T}
				WHERE period >= toDate('{start}') AND firm_id IN (SELECT firm_id FROM layoffwatch.firms FINAL WHERE has(['{pref}'], prefecture))`},
	}
	fill := func(sql, table string) string {
		return strings.NewReplacer("{T}", table, "{latest}", latest.Format("2006-01-02"), "{pref}", biggest,
			"{start}", opts.Start.Start().Format("2006-01-02")).Replace(sql)
	}
	for i, k := range shardKeys {
		var perShard []string
		var counts []float64
		for s, shard := range c.Servers {
			var rowsN, bigRows uint64
			if err := open(b, shard[0].Addr()).QueryRow(ctx, fmt.Sprintf(`SELECT count(), countIf(firm_id IN (SELECT firm_id FROM layoffwatch.firms FINAL WHERE prefecture = '%s')) FROM layoffwatch.%s`, biggest, k.table)).Scan(&rowsN, &bigRows); err != nil {
				b.Fatal(err)
			}
			counts = append(counts, float64(rowsN))
			perShard = append(perShard, fmt.Sprintf("shard %d %d (%s: %d)", s+1, rowsN, biggest, bigRows))
		}
		fmt.Printf("  %-10s: insert %.1f s = %.0f reports/s; rows per shard: %s; largest / mean %.2f\n",
			k.name, insertTime[i].Seconds(), float64(n)/insertTime[i].Seconds(), strings.Join(perShard, ", "), slices.Max(counts)/((counts[0]+counts[1])/2))
		b.ReportMetric(float64(n)/insertTime[i].Seconds(), "insert_rows/s_"+strings.ReplaceAll(k.name, " ", "_"))
	}
	// the same keys over more shards (a Distributed table of N shards of
	// weight 1 sends a row to shard key % N): the balance alone
	for _, shards := range []int{4, 8} {
		var line []string
		for _, k := range shardKeys {
			var hi, mean float64
			if err := node.QueryRow(ctx, fmt.Sprintf(`SELECT toFloat64(max(c)), toFloat64(sum(c)) / %d FROM (SELECT %s %% %d AS s, count() AS c FROM layoffwatch.%s_all GROUP BY s) AS t1`,
				shards, k.key, shards, k.table)).Scan(&hi, &mean); err != nil {
				b.Fatal(err)
			}
			line = append(line, fmt.Sprintf("%s %.2f", k.name, hi/mean))
		}
		fmt.Printf("  %d shards, largest / mean (from the keys): %s\n", shards, strings.Join(line, ", "))
	}
	fmt.Printf("  queries through each Distributed table from one node (best of 3, s):\n")
	fmt.Printf("    %-66s %10s %10s\n", "", shardKeys[0].name, shardKeys[1].name)
	for _, q := range queries {
		var times []float64
		for _, k := range shardKeys {
			times = append(times, bestOf3(b, node, fill(q.sql, k.table+"_all")))
		}
		fmt.Printf("    %-66s %10.3f %10.3f\n", q.name, times[0], times[1])
	}
	// what prefecture sharding could give if a reader addressed the shard
	// that holds the prefecture (ClickHouse 18.16's Distributed engine asks
	// every shard: it cannot skip shards by the key)
	for s, shard := range c.Servers {
		conn := open(b, shard[0].Addr())
		var has uint64
		if err := conn.QueryRow(ctx, fmt.Sprintf(`SELECT count() FROM layoffwatch.sk_pref WHERE substring(firm_id, 3, 4) = '%s'`, biggest[:4])).Scan(&has); err != nil {
			b.Fatal(err)
		}
		if has == 0 {
			continue
		}
		fmt.Printf("    %-66s %10s %10.3f\n", fmt.Sprintf("biggest prefecture's stat, prefecture shard %d's local table alone", s+1), "",
			bestOf3(b, conn, fill(queries[1].sql, "sk_pref")))
	}
	fmt.Println()
	for b.Loop() {
		// the figures above are one run's (-benchtime=1x)
	}
}

// bestOf3 runs a query three times, reading every row, and returns the
// fastest time in seconds.
func bestOf3(b *testing.B, conn driver.Conn, sql string) float64 {
	best := 0.0
	for range 3 {
		t := time.Now()
		rows, err := conn.Query(context.Background(), sql)
		if err != nil {
			b.Fatalf("%s: %v", sql, err)
		}
		n := 0
		for rows.Next() {
			n++ // read every row: the time includes the transfer
		}
		if err := rows.Err(); err != nil {
			b.Fatalf("%s: %v", sql, err)
		}
		_ = rows.Close()
		d := time.Since(t).Seconds()
		if best == 0 || d < best {
			best = d
		}
	}
	return best
}
