package gateway

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	requests       *prometheus.CounterVec
	requestSeconds *prometheus.HistogramVec
	authFailures   *prometheus.CounterVec
	rateLimited    *prometheus.CounterVec
	accepted       *prometheus.CounterVec
	late           prometheus.Counter
	produceSeconds prometheus.Histogram
	produceErrors  prometheus.Counter
	idemReplays    prometheus.Counter
	smuggling      prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "layoffwatch_gateway_requests_total",
			Help: "HTTP requests answered, by route pattern and status code."}, []string{"route", "code"}),
		requestSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "layoffwatch_gateway_request_seconds",
			Help: "Time to answer a request, by route pattern.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"route"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "layoffwatch_gateway_auth_failures_total",
			Help: "Requests refused for their token: missing, malformed, unknown or revoked."}, []string{"reason"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "layoffwatch_gateway_rate_limited_total",
			Help: "Requests answered 429, by limiter: token (its request rate), client_token (failed authentications for one token id from one address) or client (failed authentications from one address)."}, []string{"limiter"}),
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "layoffwatch_gateway_reports_accepted_total",
			Help: "Reports acknowledged by Kafka and answered 202, by channel (api, csv, web)."}, []string{"channel"}),
		late: prometheus.NewCounter(prometheus.CounterOpts{Name: "layoffwatch_gateway_late_reports_total",
			Help: "Accepted reports received after their period's deadline."}),
		produceSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "layoffwatch_gateway_kafka_produce_seconds",
			Help: "Time from handing a request's reports to the Kafka producer to the acknowledgement (acks = all).", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
		produceErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "layoffwatch_gateway_kafka_produce_errors_total",
			Help: "Requests answered 503 because Kafka did not acknowledge their reports."}),
		idemReplays: prometheus.NewCounter(prometheus.CounterOpts{Name: "layoffwatch_gateway_idempotent_replays_total",
			Help: "POSTs answered from a stored answer to the same Idempotency-Key."}),
		smuggling: prometheus.NewCounter(prometheus.CounterOpts{Name: "layoffwatch_gateway_smuggling_refused_total",
			Help: "Requests with both Content-Length and Transfer-Encoding, answered 400 with the connection closed."}),
	}
	reg.MustRegister(m.requests, m.requestSeconds, m.authFailures, m.rateLimited, m.accepted, m.late, m.produceSeconds, m.produceErrors, m.idemReplays, m.smuggling)
	return m
}
