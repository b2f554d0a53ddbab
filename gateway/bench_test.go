package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

// BenchmarkGateway measures reports through the whole gateway — HTTP on
// loopback, token check, validation, encoding, Kafka produce with acks =
// all to the embedded broker — as single-report POSTs from many concurrent
// clients and as 1,000-report batches. Run it with `make bench-gateway`.
// Targets (2 cores): ≥ 3,000 single reports/s, ≥ 100,000 reports/s in
// batches. It prints reports/s and p50/p99 latency per request.
//
// BENCH_SINGLE_REQUESTS, BENCH_CLIENTS, BENCH_BATCHES and BENCH_BATCH_CLIENTS
// change the load.
func BenchmarkGateway(b *testing.B) {
	const nFirms = 5000
	h := newHarness(b, func(o *Options) {
		o.Rate, o.Burst = 1e9, 1<<30
		o.ProduceTimeout, o.WriteTimeout = 10*time.Second, 30*time.Second
		o.FlushInterval = 500 * time.Millisecond
	})
	list := make([]firms.Firm, nFirms)
	for i := range list {
		list[i] = firms.Firm{ID: testenv.FirmID("620103", i+1), Name: "企业" + strconv.Itoa(i), Region: "620103", Industry: "C", BaselineHeadcount: 300}
	}
	if err := firms.NewStore(h.ch).Upsert(context.Background(), list); err != nil {
		b.Fatal(err)
	}
	if err := h.srv.firms.refresh(context.Background()); err != nil {
		b.Fatal(err)
	}
	token := h.token(Scope{Region: "620000"})
	period := currentPeriod().Add(-1)
	rep := func(i int) report.Report {
		return report.Report{FirmID: list[i%nFirms].ID, Period: period, Headcount: uint32(100 + i%900), Vacancies: uint32(i % 17), Hires: 3,
			Separations: report.Separations{Resignation: 2, Retirement: 1}, Revision: uint32(1 + i/nFirms)}
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, DisableCompression: true}}
	post := func(body []byte) (time.Duration, error) {
		req, err := http.NewRequest(http.MethodPost, h.url+"/v1/reports", bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return 0, fmt.Errorf("status %d", resp.StatusCode)
		}
		return time.Since(start), nil
	}
	// run sends bodies from `clients` goroutines and reports the rate.
	run := func(b *testing.B, bodies [][]byte, perBody, clients int) {
		b.ReportAllocs()
		var rate, p50, p99 float64
		for b.Loop() {
			lat := make([]time.Duration, len(bodies))
			var next atomic.Int64
			var failed atomic.Value
			var wg sync.WaitGroup
			start := time.Now()
			for range clients {
				wg.Go(func() {
					for {
						i := int(next.Add(1)) - 1
						if i >= len(bodies) {
							return
						}
						d, err := post(bodies[i])
						if err != nil {
							failed.Store(err)
							return
						}
						lat[i] = d
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			if err, _ := failed.Load().(error); err != nil {
				b.Fatal(err)
			}
			slices.Sort(lat)
			rate = float64(len(bodies)*perBody) / elapsed.Seconds()
			p50 = float64(lat[len(lat)/2].Microseconds()) / 1000
			p99 = float64(lat[len(lat)*99/100].Microseconds()) / 1000
			b.Logf("%d requests × %d reports from %d clients in %s: %.0f reports/s, latency p50 %.2f ms, p99 %.2f ms",
				len(bodies), perBody, clients, elapsed.Round(time.Millisecond), rate, p50, p99)
		}
		b.ReportMetric(rate, "reports/s")
		b.ReportMetric(p50, "p50-ms")
		b.ReportMetric(p99, "p99-ms")
	}

	b.Run("single", func(b *testing.B) {
		n, clients := envInt("BENCH_SINGLE_REQUESTS", 30000), envInt("BENCH_CLIENTS", 64)
		bodies := make([][]byte, n)
		for i := range bodies {
			bodies[i] = report.AppendEncode(nil, rep(i))
		}
		run(b, bodies, 1, clients)
	})
	b.Run("batch1000", func(b *testing.B) {
		n, clients := envInt("BENCH_BATCHES", 200), envInt("BENCH_BATCH_CLIENTS", 4)
		bodies := make([][]byte, n)
		for i := range bodies {
			buf := []byte{'['}
			for j := range MaxBatch {
				if j > 0 {
					buf = append(buf, ',')
				}
				buf = report.AppendEncode(buf, rep(i*MaxBatch+j))
			}
			bodies[i] = append(buf, ']')
		}
		run(b, bodies, MaxBatch, clients)
	})
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}
