package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/tlsconf"
)

// healthcheckCmd lets a container check itself without a shell or curl:
// HEALTHCHECK CMD ["/layoffwatch", "healthcheck"].
type healthcheckCmd struct {
	URL     string        `arg:"" optional:"" default:"http://127.0.0.1:9101/readyz" help:"Readiness (or liveness: /healthz) endpoint to query."`
	Timeout time.Duration `default:"3s" help:"Give up after this long."`
	TLSCA   string        `help:"CA (PEM) that signs an https:// endpoint's certificate (a component run with --tls-cert)." type:"path" name:"tls-ca-file"`
}

// Run exits 0 when the endpoint answers 200. Otherwise it fails naming what
// is wrong: the connection, or each dependency /readyz reports as failing.
func (c *healthcheckCmd) Run(e *env) error {
	ctx, cancel := context.WithTimeout(e.ctx, c.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	client := http.DefaultClient
	if c.TLSCA != "" {
		tc, err := tlsconf.Client{CAFile: c.TLSCA}.Config("healthcheck")
		if err != nil {
			return err
		}
		client = &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
	var failed []string
	for _, line := range strings.Split(string(body), "\n") {
		if f, ok := strings.CutPrefix(line, "FAIL "); ok {
			failed = append(failed, f)
		}
	}
	if len(failed) == 0 {
		return fmt.Errorf("healthcheck: %s answered %s", c.URL, resp.Status)
	}
	return fmt.Errorf("healthcheck: %s answered %s; not ready: %s", c.URL, resp.Status, strings.Join(failed, "; "))
}
