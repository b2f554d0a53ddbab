package ingest

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	consumed      prometheus.Counter
	inserted      prometheus.Counter
	rejected      *prometheus.CounterVec
	batches       prometheus.Counter
	insertSeconds prometheus.Histogram
	retries       *prometheus.CounterVec
	lag           *prometheus.GaugeVec
	lastInsert    prometheus.Gauge
	registryFirms prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		consumed: prometheus.NewCounter(prometheus.CounterOpts{Name: "layoffwatch_ingest_messages_consumed_total",
			Help: "Messages read from the reports topic."}),
		inserted: prometheus.NewCounter(prometheus.CounterOpts{Name: "layoffwatch_ingest_reports_inserted_total",
			Help: "Valid reports inserted into ClickHouse (a redelivery after a crash counts again)."}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "layoffwatch_ingest_rejected_total",
			Help: "Messages refused, by validation reason; each went to the DLQ topic and the rejects table."}, []string{"reason"}),
		batches: prometheus.NewCounter(prometheus.CounterOpts{Name: "layoffwatch_ingest_batches_total",
			Help: "Batches written and committed."}),
		insertSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "layoffwatch_ingest_batch_insert_seconds",
			Help: "Time to insert one batch into ClickHouse, retries excluded.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "layoffwatch_ingest_retries_total",
			Help: "Failed attempts that were retried, by step (insert_reports, insert_rejects, dlq, commit)."}, []string{"step"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "layoffwatch_ingest_consumer_lag",
			Help: "Messages behind the partition's high-water mark after the last committed batch."}, []string{"topic", "partition"}),
		lastInsert: prometheus.NewGauge(prometheus.GaugeOpts{Name: "layoffwatch_ingest_last_insert_timestamp_seconds",
			Help: "Unix time of the last successful batch insert."}),
		registryFirms: prometheus.NewGauge(prometheus.GaugeOpts{Name: "layoffwatch_ingest_registry_firms",
			Help: "Firms in the registry the ingest validates against."}),
	}
	reg.MustRegister(m.consumed, m.inserted, m.rejected, m.batches, m.insertSeconds, m.retries, m.lag, m.lastInsert, m.registryFirms)
	return m
}
