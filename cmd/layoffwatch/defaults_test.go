package main

import (
	"io"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/layoffwatch/layoffwatch/alerts"
	"github.com/layoffwatch/layoffwatch/console"
	"github.com/layoffwatch/layoffwatch/detector"
	"github.com/layoffwatch/layoffwatch/gateway"
	"github.com/layoffwatch/layoffwatch/ingest"
)

// TestDefaultOptionsAreTheCLIs: each component's DefaultOptions — where
// internal/stack, `local` and tests start from — is what its command sets
// with no flags: the defaults have one home, the kong tags.
func TestDefaultOptionsAreTheCLIs(t *testing.T) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "LAYOFFWATCH_") {
			t.Setenv(k, "") // the command line alone
			os.Unsetenv(k)
		}
	}
	parse := func(t *testing.T, cmd string) *cli {
		t.Helper()
		var c cli
		p, err := newParser(&c, io.Discard, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Parse([]string{cmd}); err != nil {
			t.Fatal(err)
		}
		return &c
	}
	tests := []struct {
		cmd      string
		cli      func(*cli) any
		defaults func() (any, error)
	}{
		{"ingest", func(c *cli) any { return c.Ingest.Options }, func() (any, error) { return ingest.DefaultOptions() }},
		{"detect", func(c *cli) any { return c.Detect.Options }, func() (any, error) { return detector.DefaultOptions() }},
		{"alert", func(c *cli) any { return c.Alert.Options }, func() (any, error) { return alerts.DefaultOptions() }},
		{"gateway", func(c *cli) any { return c.Gateway.Options }, func() (any, error) { return gateway.DefaultOptions() }},
		{"console", func(c *cli) any { return c.Console.Options }, func() (any, error) { return console.DefaultOptions() }},
	}
	for _, tt := range tests {
		t.Run(tt.cmd, func(t *testing.T) {
			want, err := tt.defaults()
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.cli(parse(t, tt.cmd)); !reflect.DeepEqual(got, want) {
				t.Errorf("`layoffwatch %s` sets\n%+v\nDefaultOptions is\n%+v", tt.cmd, got, want)
			}
		})
	}
}
