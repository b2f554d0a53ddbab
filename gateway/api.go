package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/valyala/fastjson"

	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

//go:embed openapi.yaml
var openAPI []byte

func (s *Server) getOpenAPI(w http.ResponseWriter, _ *http.Request) {
	writeBody(w, http.StatusOK, "application/yaml", openAPI)
}

// item is one report of a request before validation.
type item struct {
	json []byte
	line int // CSV: line in the file
}

func (s *Server) postReports(w http.ResponseWriter, r *http.Request) {
	tok, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	if !s.requireType(w, r, "application/json") {
		return
	}
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	s.idempotent(w, r, tok, body, func() (int, []byte) {
		items, prob := splitJSON(body)
		if prob != nil {
			return http.StatusBadRequest, encodeProblem(*prob)
		}
		return s.accept(r.Context(), tok, "api", items, r.Header.Get("Idempotency-Key"))
	})
}

func (s *Server) postReportsCSV(w http.ResponseWriter, r *http.Request) {
	tok, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	if !s.requireType(w, r, "text/csv") {
		return
	}
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	s.idempotent(w, r, tok, body, func() (int, []byte) {
		recs, err := DecodeCSV(body, MaxBatch)
		if err != nil {
			var ce *CSVError
			if !errors.As(err, &ce) {
				ce = &CSVError{Problem: &report.Problem{Reason: report.ReasonMalformedJSON, Message: err.Error()}}
			}
			fp := FieldProblem{Line: ce.Line, Reason: ce.Problem.Reason, Field: ce.Problem.Field, Message: ce.Problem.Message}
			return http.StatusBadRequest, encodeProblem(Problem{Type: problemValidation, Title: "Invalid CSV upload", Status: http.StatusBadRequest,
				Detail: fmt.Sprintf("line %d: %s; no report was accepted", ce.Line, ce.Problem.Message), Errors: []FieldProblem{fp}})
		}
		items := make([]item, len(recs))
		for i, rec := range recs {
			items[i] = item{json: rec.JSON, line: rec.Line}
		}
		return s.accept(r.Context(), tok, "csv", items, r.Header.Get("Idempotency-Key"))
	})
}

// requireType answers 415 unless the request's media type is want.
func (s *Server) requireType(w http.ResponseWriter, r *http.Request, want string) bool {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err == nil && mt == want {
		if cs, ok := params["charset"]; !ok || equalFoldASCII(cs, "utf-8") {
			return true
		}
	}
	w.Header().Set("Accept-Post", want+"; charset=utf-8")
	writeProblem(w, Problem{Type: problemMediaType, Title: "Unsupported media type", Status: http.StatusUnsupportedMediaType,
		Detail: fmt.Sprintf("send %s (UTF-8)", want)})
	return false
}

func equalFoldASCII(a, b string) bool {
	return len(a) == len(b) && bytes.EqualFold([]byte(a), []byte(b))
}

var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// readBody reads at most MaxBodyBytes and answers 413 beyond. A declared
// length over the limit is refused before any byte is read; a streamed body
// is cut off at the limit and the connection closed.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	tooLarge := func() ([]byte, bool) {
		w.Header().Set("Connection", "close")
		writeProblem(w, Problem{Type: problemTooLarge, Title: "Request body too large", Status: http.StatusRequestEntityTooLarge,
			Detail: fmt.Sprintf("a request body may hold at most %d bytes (and %d reports); split the upload", MaxBodyBytes, MaxBatch)})
		return nil, false
	}
	if r.ContentLength > MaxBodyBytes {
		return tooLarge()
	}
	buf := bodyPool.Get().(*bytes.Buffer)
	defer bodyPool.Put(buf)
	buf.Reset()
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return tooLarge()
		}
		writeProblem(w, Problem{Type: problemBadRequest, Title: "Could not read the request body", Status: http.StatusBadRequest, Detail: "the body ended early"})
		return nil, false
	}
	return bytes.Clone(buf.Bytes()), true
}

// idempotent runs process once per Idempotency-Key of the token and replays
// its answer to retries.
func (s *Server) idempotent(w http.ResponseWriter, r *http.Request, tok Token, body []byte, process func() (int, []byte)) {
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		status, b := process()
		writeAnswer(w, status, b)
		return
	}
	if !validIdemKey(key) {
		writeProblem(w, Problem{Type: problemIdempotency, Title: "Invalid Idempotency-Key", Status: http.StatusBadRequest,
			Detail: "an Idempotency-Key is 1–255 printable ASCII characters"})
		return
	}
	h := sha256.New()
	_, _ = io.WriteString(h, r.Method+" "+r.URL.Path+"\n") // a hash does not fail
	h.Write(body)
	hash := hex.EncodeToString(h.Sum(nil))
	now := s.now()
	state, rec, err := s.idem.begin(r.Context(), tok.ID, key, hash, now)
	switch {
	case err != nil:
		s.log.Warn("idempotency lookup failed", "err", err)
		writeRetry(w, 5*time.Second, Problem{Type: problemInternal, Title: "Idempotency store unavailable", Status: http.StatusServiceUnavailable,
			Detail: "the answer to an earlier request with this key could not be looked up; nothing was accepted, retry later"})
		return
	case state == idemConflict:
		writeProblem(w, Problem{Type: problemIdempotency, Title: "Request with this Idempotency-Key in progress", Status: http.StatusConflict,
			Detail: "an earlier request with the same key is still being processed; retry when it has been answered"})
		return
	case state == idemMismatch:
		writeProblem(w, Problem{Type: problemIdempotency, Title: "Idempotency-Key reused", Status: http.StatusUnprocessableEntity,
			Detail: "this key was used for a different request; use a new key for a new request"})
		return
	case state == idemReplay:
		s.m.idemReplays.Inc()
		w.Header().Set("Idempotent-Replayed", "true")
		writeAnswer(w, rec.Status, rec.Body)
		return
	}
	status, b := process()
	switch status {
	case http.StatusAccepted, http.StatusBadRequest, http.StatusForbidden:
		s.idem.end(idemRecord{TokenID: tok.ID, Key: key, RequestHash: hash, Status: status, Body: b, CreatedAt: now})
	default:
		s.idem.abandon(tok.ID, key)
	}
	writeAnswer(w, status, b)
}

func validIdemKey(k string) bool {
	if len(k) > 255 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

func writeAnswer(w http.ResponseWriter, status int, body []byte) {
	ct := "application/json"
	if status >= 400 {
		ct = "application/problem+json"
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	writeBody(w, status, ct, body)
}

// splitJSON splits a body holding one report object or an array of them
// into the bytes of each report as received: every report is judged on
// those bytes (size, encoding, the type of every field), reported_at
// included, before the gateway replaces reported_at with its own clock.
func splitJSON(body []byte) ([]item, *Problem) {
	var p fastjson.Parser
	v, err := p.ParseBytes(body)
	if err != nil || (v.Type() != fastjson.TypeArray && v.Type() != fastjson.TypeObject) {
		// report.Decode words the problem as it does for every path
		_, prob := report.Decode(body, time.Now())
		if prob == nil {
			prob = &report.Problem{Reason: report.ReasonMalformedJSON, Message: "the body must be a report object or an array of them"}
		}
		return nil, &Problem{Type: problemValidation, Title: "Invalid request body", Status: http.StatusBadRequest,
			Detail: prob.Message, Errors: []FieldProblem{fieldProblem(0, "", prob)}}
	}
	var spans [][]byte
	if v.Type() == fastjson.TypeObject {
		spans = [][]byte{bytes.TrimSpace(body)}
	} else {
		spans = arrayElements(body)
	}
	switch {
	case len(spans) == 0:
		return nil, &Problem{Type: problemValidation, Title: "Invalid request body", Status: http.StatusBadRequest,
			Detail: "the array holds no reports", Errors: []FieldProblem{{Reason: report.ReasonMissingField, Message: "the array holds no reports"}}}
	case len(spans) > MaxBatch:
		return nil, &Problem{Type: problemValidation, Title: "Too many reports", Status: http.StatusBadRequest,
			Detail: fmt.Sprintf("a request holds at most %d reports, this one %d", MaxBatch, len(spans)),
			Errors: []FieldProblem{{Reason: report.ReasonTooLarge, Message: fmt.Sprintf("at most %d reports per request", MaxBatch)}}}
	}
	items := make([]item, len(spans))
	for i, b := range spans {
		items[i] = item{json: b}
	}
	return items, nil
}

// arrayElements returns the bytes of each element of a JSON array, as
// received (without the whitespace around them). body must be a valid
// JSON array (fastjson parsed it).
func arrayElements(body []byte) [][]byte {
	var out [][]byte
	i := bytes.IndexByte(body, '[') + 1
	depth, start := 0, -1
	for ; i < len(body); i++ {
		switch c := body[i]; c {
		case ' ', '\t', '\n', '\r':
			continue
		case '"':
			if start < 0 {
				start = i
			}
			for i++; i < len(body) && body[i] != '"'; i++ {
				if body[i] == '\\' {
					i++
				}
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 { // the array's own ]
				if start >= 0 {
					out = append(out, bytes.TrimRight(body[start:i], " \t\n\r"))
				}
				return out
			}
			depth--
		case ',':
			if depth == 0 {
				out = append(out, bytes.TrimRight(body[start:i], " \t\n\r"))
				start = -1
				continue
			}
		}
		if start < 0 {
			start = i
		}
	}
	return out
}

// Accepted is the answer to a POST whose reports Kafka acknowledged.
type Accepted struct {
	RequestID  string           `json:"request_id"`
	Accepted   int              `json:"accepted"`
	Late       int              `json:"late"`
	ReceivedAt time.Time        `json:"received_at"`
	Reports    []AcceptedReport `json:"reports"`
}

// AcceptedReport is one accepted report.
type AcceptedReport struct {
	FirmID   string    `json:"firm_id"`
	Period   string    `json:"period"`
	Revision uint32    `json:"revision"`
	Late     bool      `json:"late"`
	Deadline time.Time `json:"deadline"`
}

var encodePool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// accept validates every report of a request and produces them all, or
// none: one invalid report (400), one firm outside the token's scope (403)
// or one revision already submitted with other content (409) refuses the
// whole request before anything reaches Kafka.
func (s *Server) accept(ctx context.Context, tok Token, channel string, items []item, idemKey string) (int, []byte) {
	now := s.now()
	view := &registryView{ctx: ctx, c: s.firms, reg: s.registry(ctx)}
	reports := make([]report.Report, 0, len(items))
	var invalid, forbidden []FieldProblem
	for i, it := range items {
		r, prob := report.ValidateReceived(it.json, now, view)
		// Scope comes before anything the registry would say: a firm token
		// may act for its own firm only, a bureau's token for the
		// registered firms of its region only. A firm it may not act for —
		// registered elsewhere or not registered at all — gets the same
		// 403, so the answer tells nothing about the registry.
		if r.FirmID != "" && !tok.Scope.Allows(r.FirmID, view.reg) {
			forbidden = append(forbidden, FieldProblem{Index: i, Line: it.line, FirmID: r.FirmID, Reason: "forbidden_firm", Field: "firm_id",
				Message: fmt.Sprintf("this token (%s) may not report for firm %s: %s", tok.Scope, r.FirmID, tok.Scope.may())})
			continue
		}
		if prob != nil {
			fp := fieldProblem(i, r.FirmID, prob)
			fp.Line = it.line
			invalid = append(invalid, fp)
			continue
		}
		reports = append(reports, r)
	}
	if len(forbidden) > 0 {
		s.log.Warn("report for a firm outside the token's scope", "token_id", tok.ID, "firm_id", forbidden[0].FirmID, "count", len(forbidden))
		return http.StatusForbidden, encodeProblem(Problem{Type: problemForbidden, Title: "Firm outside the token's scope", Status: http.StatusForbidden,
			Detail: fmt.Sprintf("%d of %d reports are for firms this token may not act for; none was accepted", len(forbidden), len(items)), Errors: forbidden})
	}
	if len(invalid) > 0 {
		return http.StatusBadRequest, encodeProblem(Problem{Type: problemValidation, Title: "Invalid reports", Status: http.StatusBadRequest,
			Detail: fmt.Sprintf("%d of %d reports are invalid; none was accepted", len(invalid), len(items)), Errors: invalid})
	}
	l, conflicts, err := s.revs.claim(ctx, reports)
	switch {
	case err != nil:
		s.log.Warn("check revisions", "err", err, "token_id", tok.ID)
		return http.StatusServiceUnavailable, encodeProblem(unavailableProblem)
	case len(conflicts) > 0:
		s.log.Info("revision resubmitted with other content", "token_id", tok.ID, "firm_id", conflicts[0].key.firm, "count", len(conflicts))
		return http.StatusConflict, encodeProblem(conflictProblem(conflicts, len(items), func(i int) int { return items[i].line }))
	}
	_, ans, err := s.produce(ctx, tok, channel, reports, idemKey, now)
	l.done(err == nil)
	if err != nil {
		return http.StatusServiceUnavailable, encodeProblem(Problem{Type: problemUnavailable, Title: "Kafka unavailable", Status: http.StatusServiceUnavailable,
			Detail: "Kafka did not acknowledge the reports; none was accepted. Send the same request again later (with the same Idempotency-Key)"})
	}
	return http.StatusAccepted, ans
}

// produce stamps reported_at, sends the reports to Kafka and waits for the
// acknowledgement (acks = all), then records the submissions and returns
// the 202 body. The wait does not end with the client's connection: once
// handed over, the reports are either acknowledged or failed.
func (s *Server) produce(ctx context.Context, tok Token, channel string, reports []report.Report, idemKey string, now time.Time) (Accepted, []byte, error) {
	reqID := newRequestID()
	stamp := now.In(report.Shanghai()).Truncate(time.Second)
	bp := encodePool.Get().(*[]byte)
	defer encodePool.Put(bp)
	buf := (*bp)[:0]
	msgs := make([]kafka.Message, len(reports))
	ans := Accepted{RequestID: reqID, Accepted: len(reports), ReceivedAt: stamp, Reports: make([]AcceptedReport, len(reports))}
	subs := make([]submission, len(reports))
	headers := []kafka.Header{{Key: "source", Value: []byte("gateway")}, {Key: "token_id", Value: []byte(tok.ID)}}
	lateHeaders := append(headers[:len(headers):len(headers)], kafka.Header{Key: "late", Value: []byte("true")})
	offsets := make([]int, len(reports)+1)
	for i := range reports {
		r := &reports[i]
		r.ReportedAt = stamp
		late := s.dl.late(r.Period, now)
		buf = report.AppendEncode(buf, *r)
		offsets[i+1] = len(buf)
		msgs[i] = kafka.Message{Key: []byte(r.FirmID), Headers: headers}
		if late {
			msgs[i].Headers = lateHeaders
			ans.Late++
		}
		ans.Reports[i] = AcceptedReport{FirmID: r.FirmID, Period: r.Period.String(), Revision: r.Revision, Late: late, Deadline: s.dl.of(r.Period)}
		subs[i] = submission{ReceivedAt: now, ID: reqID + "-" + strconv.Itoa(i), FirmID: r.FirmID, Period: r.Period, Revision: r.Revision,
			TokenID: tok.ID, Channel: channel, IdemKey: idemKey, Late: late, Hash: r.ContentHash()}
	}
	for i := range msgs {
		msgs[i].Value = buf[offsets[i]:offsets[i+1]:offsets[i+1]]
	}
	*bp = buf
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.ProduceTimeout)
	defer cancel()
	start := time.Now()
	err := s.prod.WriteMessages(pctx, msgs...)
	s.m.produceSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		s.m.produceErrors.Inc()
		s.log.Warn("kafka did not acknowledge; answering 503", "err", err, "token_id", tok.ID, "reports", len(msgs))
		return Accepted{}, nil, fmt.Errorf("produce: %w", err)
	}
	s.m.accepted.WithLabelValues(channel).Add(float64(len(reports)))
	if ans.Late > 0 {
		s.m.late.Add(float64(ans.Late))
	}
	s.subs.add(subs...)
	b, err := json.Marshal(ans)
	if err != nil {
		return Accepted{}, nil, fmt.Errorf("encode answer: %w", err)
	}
	return ans, b, nil
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return hex.EncodeToString(b[:])
}

// ReportState is what became of one report, in GET /v1/reports.
type ReportState struct {
	FirmID       string          `json:"firm_id"`
	Period       string          `json:"period"`
	Revision     uint32          `json:"revision"`
	State        string          `json:"state"` // accepted, superseded, rejected, pending
	SupersededBy uint32          `json:"superseded_by,omitempty"`
	Late         bool            `json:"late"`
	ReportedAt   *time.Time      `json:"reported_at,omitempty"`
	IngestedAt   *time.Time      `json:"ingested_at,omitempty"`
	Report       *report.Report  `json:"report,omitempty"`
	Problem      *report.Problem `json:"problem,omitempty"`
}

// Reports is the answer to GET /v1/reports.
type Reports struct {
	Period   string        `json:"period"`
	Deadline time.Time     `json:"deadline"`
	Reports  []ReportState `json:"reports"`
}

// periodParam reads ?period= (default: the current period). A period no
// report can have — before 2000-01, or after the current month — is a 400
// with its reason, as a report for it would be.
func (s *Server) periodParam(w http.ResponseWriter, r *http.Request) (report.Period, bool) {
	q := r.URL.Query().Get("period")
	if q == "" {
		return s.dl.current(s.now()), true
	}
	p, err := report.ParsePeriod(q)
	reason, msg := "", ""
	switch last := report.PeriodOf(s.now().In(report.Shanghai())); {
	case err != nil:
		reason, msg = report.ReasonInvalidPeriod, "period must be YYYY-MM"
	case p < report.MinPeriod:
		reason, msg = report.ReasonInvalidPeriod, fmt.Sprintf("period %s is before %s, the first period reports can have", p, report.MinPeriod)
	case p > last:
		reason, msg = report.ReasonFuturePeriod, fmt.Sprintf("period %s is after %s, the current month: no report can exist for it", p, last)
	default:
		return p, true
	}
	writeProblem(w, Problem{Type: problemValidation, Title: "Invalid period", Status: http.StatusBadRequest, Detail: msg,
		Errors: []FieldProblem{{Reason: reason, Field: "period", Message: msg}}})
	return 0, false
}

func (s *Server) getReports(w http.ResponseWriter, r *http.Request) {
	periodQuery(s, w, r, "read report states", func(ctx context.Context, sc Scope, p report.Period) (Reports, error) {
		list, err := s.reportStates(ctx, sc, p)
		return Reports{Period: p.String(), Deadline: s.dl.of(p), Reports: list}, err
	})
}

// periodQuery answers a GET about one period of the token's firms: it
// authenticates, reads ?period=, runs read and writes its answer as JSON.
func periodQuery[T any](s *Server, w http.ResponseWriter, r *http.Request, what string, read func(context.Context, Scope, report.Period) (T, error)) {
	tok, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	p, ok := s.periodParam(w, r)
	if !ok {
		return
	}
	ans, err := read(r.Context(), tok.Scope, p)
	if err != nil {
		s.log.Warn(what, "err", err, "period", p.String())
		writeRetry(w, 5*time.Second, Problem{Type: problemInternal, Title: "Storage unavailable", Status: http.StatusServiceUnavailable})
		return
	}
	writeJSON(w, http.StatusOK, ans)
}

// reportStates merges what ingest stored, what it refused and what the
// gateway accepted but ingest has not stored yet. Stored revisions come
// from report_revisions (every revision, as the reports table keeps only
// the latest once merged) and the reports table read FINAL (the latest
// one's figures, and reports stored before report_revisions existed); a
// revision is accepted if it is its firm's latest, else superseded, and
// only the latest carries its figures. An accepted submission not stored
// yet is pending — unless a later revision is stored already: then it is
// superseded, never pending.
func (s *Server) reportStates(ctx context.Context, scope Scope, p report.Period) ([]ReportState, error) {
	ids := firmIDs(scope.Firms(s.registry(ctx)))
	latest, err := s.store.stored(ctx, ids, p)
	if err != nil {
		return nil, err
	}
	stored, err := s.store.storedRevisions(ctx, ids, p)
	if err != nil {
		return nil, err
	}
	rejs, err := s.store.rejects(ctx, ids, p)
	if err != nil {
		return nil, err
	}
	subs, err := s.store.submissions(ctx, ids, p)
	if err != nil {
		return nil, err
	}
	type fr struct {
		firm string
		rev  uint32
	}
	top := map[string]uint32{}
	figures := map[fr]storedRow{}
	for _, rv := range latest {
		top[rv.Report.FirmID] = max(top[rv.Report.FirmID], rv.Report.Revision)
		figures[fr{rv.Report.FirmID, rv.Report.Revision}] = rv
	}
	for _, sr := range stored {
		top[sr.FirmID] = max(top[sr.FirmID], sr.Revision)
	}
	lateSub := map[fr]bool{}
	for _, sb := range subs {
		lateSub[fr{sb.FirmID, sb.Revision}] = lateSub[fr{sb.FirmID, sb.Revision}] || sb.Late
	}
	out := []ReportState{}
	seen := map[fr]bool{}
	addStored := func(firm string, rev uint32, reported, ingested time.Time) {
		k := fr{firm, rev}
		if seen[k] {
			return
		}
		seen[k] = true
		st := ReportState{FirmID: firm, Period: p.String(), Revision: rev, State: "accepted",
			Late: lateSub[k] || s.dl.late(p, reported), ReportedAt: &reported, IngestedAt: &ingested}
		if l := top[firm]; l > rev {
			st.State, st.SupersededBy = "superseded", l
		} else if rv, ok := figures[k]; ok {
			rep := rv.Report
			st.Report = &rep
		}
		out = append(out, st)
	}
	for _, rv := range latest {
		addStored(rv.Report.FirmID, rv.Report.Revision, rv.Report.ReportedAt, rv.IngestedAt)
	}
	for _, sr := range stored {
		addStored(sr.FirmID, sr.Revision, sr.ReportedAt, sr.IngestedAt)
	}
	for _, rj := range rejs {
		prob := rj.Problem
		at := rj.ReceivedAt
		out = append(out, ReportState{FirmID: rj.FirmID, Period: p.String(), Revision: rj.Revision, State: "rejected", IngestedAt: &at, Problem: &prob})
		seen[fr{rj.FirmID, rj.Revision}] = true
	}
	for _, sb := range subs {
		k := fr{sb.FirmID, sb.Revision}
		if seen[k] {
			continue
		}
		seen[k] = true
		at := sb.ReceivedAt
		st := ReportState{FirmID: sb.FirmID, Period: p.String(), Revision: sb.Revision, State: "pending", Late: sb.Late, ReportedAt: &at}
		if l := top[sb.FirmID]; l > sb.Revision {
			st.State, st.SupersededBy = "superseded", l
		}
		out = append(out, st)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].FirmID != out[j].FirmID {
			return out[i].FirmID < out[j].FirmID
		}
		return out[i].Revision < out[j].Revision
	})
	return out, nil
}

func firmIDs(list []firms.Firm) []string {
	ids := make([]string, len(list))
	for i, f := range list {
		ids[i] = f.ID
	}
	return ids
}

// Deadlines is the answer to GET /v1/deadlines.
type Deadlines struct {
	Period   string    `json:"period"`
	Deadline time.Time `json:"deadline"`
	Passed   bool      `json:"passed"`
	Due      int       `json:"due"`      // firms of the token in the sample for the period
	Reported int       `json:"reported"` // of which have reported
	Missing  []DueFirm `json:"missing"`  // firms that have not reported yet
}

// DueFirm is a firm that has not reported.
type DueFirm struct {
	FirmID string `json:"firm_id"`
	Name   string `json:"name,omitempty"`
	Region string `json:"region,omitempty"`
}

func (s *Server) getDeadlines(w http.ResponseWriter, r *http.Request) {
	periodQuery(s, w, r, "read deadlines", s.deadlineState)
}

func (s *Server) deadlineState(ctx context.Context, scope Scope, p report.Period) (Deadlines, error) {
	var due []firms.Firm
	for _, f := range scope.Firms(s.registry(ctx)) {
		if f.EnrolledIn(p) {
			due = append(due, f)
		}
	}
	done, err := s.store.reported(ctx, firmIDs(due), p)
	if err != nil {
		return Deadlines{}, err
	}
	dl := s.dl.of(p)
	ans := Deadlines{Period: p.String(), Deadline: dl, Passed: !s.now().Before(dl), Due: len(due), Missing: []DueFirm{}}
	for _, f := range due {
		if done[f.ID] {
			ans.Reported++
			continue
		}
		ans.Missing = append(ans.Missing, DueFirm{FirmID: f.ID, Name: f.Name, Region: f.Region})
	}
	return ans, nil
}
