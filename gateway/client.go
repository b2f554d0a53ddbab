package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/report"
)

// Client submits reports to a gateway: what `layoffwatch local` uses to push
// the simulated province through the gateway, and the benchmark's load.
type Client struct {
	BaseURL string // e.g. http://127.0.0.1:8080
	Token   string
	HTTP    *http.Client // nil: http.DefaultClient
}

// StatusError is a non-202 answer to a submission.
type StatusError struct {
	Status  int
	Problem Problem
}

func (e *StatusError) Error() string {
	if e.Problem.Detail != "" {
		return fmt.Sprintf("gateway answered %d: %s", e.Status, e.Problem.Detail)
	}
	return fmt.Sprintf("gateway answered %d", e.Status)
}

// Submit posts reports in requests of at most MaxBatch and returns how many
// were accepted and how many of those were late. It stops at the first
// request not answered 202 (a *StatusError).
func (c *Client) Submit(ctx context.Context, reports []report.Report) (accepted, late int, err error) {
	buf := make([]byte, 0, 256*min(len(reports), MaxBatch))
	for len(reports) > 0 {
		n := min(len(reports), MaxBatch)
		buf = append(buf[:0], '[')
		for i, r := range reports[:n] {
			if i > 0 {
				buf = append(buf, ',')
			}
			r.ReportedAt = time.Time{} // the gateway stamps it
			buf = report.AppendEncode(buf, r)
		}
		buf = append(buf, ']')
		ans, err := c.Post(ctx, "/v1/reports", "application/json", buf, "")
		if err != nil {
			return accepted, late, err
		}
		accepted += ans.Accepted
		late += ans.Late
		reports = reports[n:]
	}
	return accepted, late, nil
}

// Post sends one body to path (/v1/reports or /v1/reports.csv), with an
// Idempotency-Key when key is set.
func (c *Client) Post(ctx context.Context, path, contentType string, body []byte, key string) (Accepted, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.BaseURL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return Accepted{}, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return Accepted{}, fmt.Errorf("post %s: %w", path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return Accepted{}, fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode != http.StatusAccepted {
		se := &StatusError{Status: resp.StatusCode}
		_ = json.Unmarshal(data, &se.Problem)
		return Accepted{}, se
	}
	var ans Accepted
	if err := json.Unmarshal(data, &ans); err != nil {
		return Accepted{}, fmt.Errorf("decode answer: %w", err)
	}
	return ans, nil
}
