package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/region"
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
	f, err := os.Open(c.Firms)
	if err != nil {
		return fmt.Errorf("open firms: %w", err)
	}
	list, err := firms.ParseCSV(f, region.China())
	_ = f.Close()
	if err != nil {
		return fmt.Errorf("firms %s: %w", c.Firms, err)
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
	err = eachLine(in, func(n int, line []byte, size int) error {
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
		return err
	}
	if bad > 0 {
		return exitError{1}
	}
	return nil
}

// eachLine calls fn for every line of r without its line ending, with the
// line's size in bytes. A line longer than report.MaxMessageBytes is not
// kept: fn gets only its size.
func eachLine(r io.Reader, fn func(n int, line []byte, size int) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var buf []byte
	for n := 1; ; n++ {
		buf = buf[:0]
		size, tooLong := 0, false
		var tail [2]byte // the last two bytes read, for the line ending
		for {
			chunk, err := br.ReadSlice('\n')
			size += len(chunk)
			for _, c := range chunk[max(len(chunk)-2, 0):] {
				tail[0], tail[1] = tail[1], c
			}
			if !tooLong {
				buf = append(buf, chunk...)
				if len(buf) > report.MaxMessageBytes+2 {
					tooLong, buf = true, buf[:0]
				}
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if errors.Is(err, io.EOF) {
				if size == 0 {
					return nil
				}
				break
			}
			if err != nil {
				return fmt.Errorf("read reports: %w", err)
			}
			break
		}
		if tail[1] == '\n' {
			size--
			if tail[0] == '\r' {
				size--
			}
		}
		line := buf[:0]
		if !tooLong {
			line = buf[:size]
		}
		if err := fn(n, line, size); err != nil {
			return err
		}
	}
}
