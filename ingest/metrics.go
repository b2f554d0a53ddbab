package ingest

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	consumed      prometheus.Counter
	inserted      prometheus.Counter
	rejected      *prometheus.CounterVec
	batches       prometheus.Counter
	insertSeconds prometheus.Histogram
	retries       *prometheus.CounterVec
	timeouts      *prometheus.CounterVec
	lag           *prometheus.GaugeVec
	lagErrors     prometheus.Counter
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
			Help: "Failed attempts that were retried, by step (check_revisions, insert_revisions, insert_reports, insert_rejects, dlq, commit)."}, []string{"step"}),
		timeouts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "layoffwatch_ingest_timeouts_total",
			Help: "Write attempts abandoned after --insert-timeout without an answer (and retried), by step."}, []string{"step"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "layoffwatch_ingest_consumer_lag",
			Help: "Messages of the partition the consumer group has not committed: the broker's end offset minus the group's committed offset, read from the broker every 5 s (every replica of the group exports the same)."},
			[]string{"topic", "partition"}),
		lagErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "layoffwatch_ingest_lag_errors_total",
			Help: "Failed reads of the consumer lag from Kafka (the gauge keeps its last value)."}),
		lastInsert: prometheus.NewGauge(prometheus.GaugeOpts{Name: "layoffwatch_ingest_last_insert_timestamp_seconds",
			Help: "Unix time of the last successful batch insert."}),
		registryFirms: prometheus.NewGauge(prometheus.GaugeOpts{Name: "layoffwatch_ingest_registry_firms",
			Help: "Firms in the registry the ingest validates against."}),
	}
	reg.MustRegister(m.consumed, m.inserted, m.rejected, m.batches, m.insertSeconds, m.retries, m.timeouts, m.lag, m.lagErrors, m.lastInsert, m.registryFirms)
	return m
}
