package gateway

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/report"
)

// Problem is an answer in RFC 9457 problem-details form
// (application/problem+json). Errors lists field-level problems with the
// validation reason codes of internal/report.
type Problem struct {
	Type     string         `json:"type"`
	Title    string         `json:"title"`
	Status   int            `json:"status"`
	Detail   string         `json:"detail,omitempty"`
	Instance string         `json:"instance,omitempty"`
	Errors   []FieldProblem `json:"errors,omitempty"`
}

// FieldProblem is one problem with one report of a request.
type FieldProblem struct {
	Index   int    `json:"index"`          // position of the report in the request, from 0
	Line    int    `json:"line,omitempty"` // CSV uploads: line in the file
	FirmID  string `json:"firm_id,omitempty"`
	Reason  string `json:"reason"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// Problem types: URNs, described in docs/api.md and the OpenAPI document.
const (
	problemValidation  = "urn:layoffwatch:problem:validation"
	problemForbidden   = "urn:layoffwatch:problem:forbidden-firm"
	problemAuth        = "urn:layoffwatch:problem:unauthorized"
	problemTooLarge    = "urn:layoffwatch:problem:too-large"
	problemMediaType   = "urn:layoffwatch:problem:unsupported-media-type"
	problemRate        = "urn:layoffwatch:problem:rate-limited"
	problemUnavailable = "urn:layoffwatch:problem:kafka-unavailable"
	problemIdempotency = "urn:layoffwatch:problem:idempotency-key"
	problemBadRequest  = "urn:layoffwatch:problem:bad-request"
	problemConflict    = "urn:layoffwatch:problem:revision-conflict"
	problemInternal    = "urn:layoffwatch:problem:internal"
)

func fieldProblem(i int, firm string, p *report.Problem) FieldProblem {
	return FieldProblem{Index: i, FirmID: firm, Reason: p.Reason, Field: p.Field, Message: p.Message}
}

// encodeProblem renders p; it is also what idempotent replays store.
func encodeProblem(p Problem) []byte {
	b, _ := json.Marshal(p) // plain structs always marshal
	return b
}

func writeProblem(w http.ResponseWriter, p Problem) {
	writeBody(w, p.Status, "application/problem+json", encodeProblem(p))
}

func writeRetry(w http.ResponseWriter, d time.Duration, p Problem) {
	w.Header().Set("Retry-After", strconv.Itoa(int((d+time.Second-1)/time.Second)))
	writeProblem(w, p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeProblem(w, Problem{Type: problemInternal, Title: "Internal error", Status: http.StatusInternalServerError})
		return
	}
	writeBody(w, status, "application/json", b)
}

func writeBody(w http.ResponseWriter, status int, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body) //nolint:gosec // G705: a JSON problem document (application/problem+json, nosniff), not HTML
}
