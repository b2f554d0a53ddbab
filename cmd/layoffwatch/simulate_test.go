package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/layoffwatch/layoffwatch/internal/label"
	"github.com/layoffwatch/layoffwatch/internal/region"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/simulate"
)

// parseSim parses a simulate command line and returns the options it
// builds for a run ending in 2026-06.
func parseSim(t *testing.T, args ...string) (simulate.Options, error) {
	t.Helper()
	var c cli
	parser, err := newParser(&c, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parser.Parse(append([]string{"simulate"}, args...)); err != nil {
		return simulate.Options{}, err
	}
	return c.Simulate.options(report.NewPeriod(2026, 6)), nil
}

// TestSimFlags checks that the flags' defaults are simulate.DefaultOptions
// (every field, so a field without a flag shows up here), that flags and
// their environment twins set the options, and that bad values are
// refused with the flag named.
func TestSimFlags(t *testing.T) {
	want := simulate.DefaultOptions()
	want.Start = report.NewPeriod(2026, 6).Add(1 - want.Months)
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		change  func(*simulate.Options)
		wantErr string
	}{
		{name: "defaults", change: func(*simulate.Options) {}},
		{name: "stress flags", args: []string{"--season-depth=2", "--season-shift-prob=0.6", "--noise-scale=3", "--economic-share=0.2",
			"--months=18", "--history=6", "--layoffs=40", "--event-kinds=layoff,split_layoff,layoff", "--turnover=0.02..0.06",
			"--reasons=0.4,0.3,0.1,0.1,0.1", "--downturn-months=2..4"},
			change: func(o *simulate.Options) {
				o.SeasonDepth, o.SeasonShiftProb, o.NoiseScale, o.EconomicShare, o.Months, o.History, o.Layoffs =
					2, 0.6, 3, 0.2, 18, 6, 40
				o.Start = report.NewPeriod(2026, 6).Add(1 - 18)
				o.EventKinds = []simulate.EventKind{simulate.Layoff, simulate.SplitLayoff, simulate.Layoff}
				o.Turnover = simulate.Range{Lo: 0.02, Hi: 0.06}
				o.Reasons = simulate.ReasonMix{0.4, 0.3, 0.1, 0.1, 0.1}
				o.DownturnMonths = simulate.IntRange{Lo: 2, Hi: 4}
			}},
		{name: "environment twins", env: map[string]string{"LAYOFFWATCH_SEASON_DEPTH": "1.5", "LAYOFFWATCH_TOURISM_DEEP": "0.5..0.8", "LAYOFFWATCH_NOISE_DF": "5"},
			change: func(o *simulate.Options) {
				o.SeasonDepth, o.NoiseDF = 1.5, 5
				o.TourismDeep = simulate.Range{Lo: 0.5, Hi: 0.8}
			}},
		{name: "bad range", args: []string{"--turnover=0.01-0.04"}, wantErr: "--turnover"},
		{name: "bad reasons", args: []string{"--reasons=0.5,0.5"}, wantErr: "--reasons"},
		{name: "bad number", args: []string{"--season-depth=deep"}, wantErr: "--season-depth"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			got, err := parseSim(t, tt.args...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			w := want
			w.EventKinds = append([]simulate.EventKind(nil), want.EventKinds...)
			tt.change(&w)
			if !reflect.DeepEqual(got, w) {
				t.Fatalf("options\n got %+v\nwant %+v", got, w)
			}
		})
	}
}

// TestSimulateInvalidOptions checks that options the simulator refuses
// fail the command with its message and write nothing.
func TestSimulateInvalidOptions(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run([]string{"simulate", "--out", dir, "--end", "2025-12", "--season-depth", "5", "--event-kinds", "layof"}, nil, &stdout, &stderr)
	if code == 0 {
		t.Fatal("simulate accepted a season depth of 5 and an unknown event kind")
	}
	for _, want := range []string{"season depth must be between 0 and 3, got 5", `event kind "layof" is not one of`} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	if files, _ := os.ReadDir(dir); len(files) != 0 {
		t.Errorf("wrote %d files", len(files))
	}
}

// TestSimulateLabels writes a province and reads its labels back with
// label.ReadFile: the file an analyst or `plan eval` reads.
func TestSimulateLabels(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := run([]string{"simulate", "--out", dir, "--firms", "500", "--months", "24", "--layoffs", "8", "--end", "2025-12"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("simulate: exit %d: %s", code, stderr.String())
	}
	labels, err := label.ReadFile(filepath.Join(dir, "labels.csv"), region.Gansu())
	if err != nil {
		t.Fatal(err)
	}
	events := 0
	for _, l := range labels {
		if l.Kind.IsEvent() && l.Scope == label.Firm {
			events++
		}
	}
	if events < 8 {
		t.Errorf("%d firm event labels for 8 planted events", events)
	}
	if !strings.Contains(stdout.String(), "labels (") {
		t.Errorf("output does not mention the labels:\n%s", stdout.String())
	}
}
