package detector

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// ReadReports reads reports in the wire format, one JSON object a line
// (blank lines are skipped). A bad line is an error naming its number.
// Reports are judged as at the end of time: a backtest has no "now".
func ReadReports(r io.Reader, name string) ([]report.Report, error) {
	endOfTime := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	var out []report.Report
	var bad error // a line that is not a report
	err := report.EachLine(r, func(n int, line []byte, size int) error {
		if size > report.MaxMessageBytes {
			bad = fmt.Errorf("%s:%d: %w", name, n, report.TooLarge(size))
			return bad
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			return nil
		}
		rep, prob := report.Decode(line, endOfTime)
		if prob != nil {
			bad = fmt.Errorf("%s:%d: %w", name, n, prob)
			return bad
		}
		out = append(out, rep)
		return nil
	})
	switch {
	case bad != nil:
		return nil, bad
	case err != nil:
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// LoadFiles reads a registry CSV and a reports JSONL file into a dataset.
func LoadFiles(firmsPath, reportsPath string) (*Dataset, error) {
	list, err := firms.LoadFile(firmsPath)
	if err != nil {
		return nil, err
	}
	rf, err := os.Open(reportsPath)
	if err != nil {
		return nil, fmt.Errorf("open reports: %w", err)
	}
	defer rf.Close()
	reports, err := ReadReports(rf, reportsPath)
	if err != nil {
		return nil, err
	}
	ds, err := BuildDataset(list, reports)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", reportsPath, err)
	}
	return ds, nil
}
