package main

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// healthcheckCmd lets a container check itself without a shell or curl:
// HEALTHCHECK CMD ["/layoffwatch", "healthcheck"].
type healthcheckCmd struct {
	URL     string        `arg:"" optional:"" default:"http://127.0.0.1:9101/healthz" help:"Health endpoint to query."`
	Timeout time.Duration `default:"3s" help:"Give up after this long."`
}

func (c *healthcheckCmd) Run(e *env) error {
	ctx, cancel := context.WithTimeout(e.ctx, c.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %s", c.URL, resp.Status)
	}
	return nil
}
