package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

type validateCmd struct {
	Firms   string    `help:"Registry CSV of monitored firms." required:"" type:"existingfile"`
	Reports string    `arg:"" optional:"" default:"-" help:"Reports as JSON lines; - or nothing reads standard input."`
	Now     time.Time `help:"Judge future periods against this time instead of the clock (RFC 3339)." hidden:""`
}

// verdict is one output line.
type verdict struct {
	Line    int    `json:"line"`
	OK      bool   `json:"ok"`
	Reason  string `json:"reason,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message,omitempty"`
}

func (c *validateCmd) Run(e *env) error {
	list, err := firms.LoadFile(c.Firms)
	if err != nil {
		return err
	}
	reg := firms.NewRegistry(list)
	in := e.stdin
	if c.Reports != "-" {
		rf, err := os.Open(c.Reports)
		if err != nil {
			return fmt.Errorf("open reports: %w", err)
		}
		defer rf.Close()
		in = rf
	}
	now := c.Now
	if now.IsZero() {
		now = time.Now()
	}
	out := bufio.NewWriter(e.stdout)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	bad := 0
	err = report.EachLine(in, func(n int, line []byte, size int) error {
		v := verdict{Line: n, OK: true}
		var prob *report.Problem
		if size > report.MaxMessageBytes {
			prob = report.TooLarge(size)
		} else {
			_, prob = report.Validate(line, now, reg)
		}
		if prob != nil {
			bad++
			v = verdict{Line: n, Reason: prob.Reason, Field: prob.Field, Message: prob.Message}
		}
		return enc.Encode(v)
	})
	if ferr := out.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return fmt.Errorf("read reports: %w", err)
	}
	if bad > 0 {
		return exitError{1}
	}
	return nil
}
