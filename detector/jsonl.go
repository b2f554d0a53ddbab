package detector

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/region"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// ReadReports reads reports in the wire format, one JSON object a line
// (blank lines are skipped). A bad line is an error naming its number.
// Reports are judged as at the end of time: a backtest has no "now".
func ReadReports(r io.Reader, name string) ([]report.Report, error) {
	endOfTime := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), report.MaxMessageBytes+2)
	var out []report.Report
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		rep, prob := report.Decode(line, endOfTime)
		if prob != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, prob)
		}
		out = append(out, rep)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// LoadFiles reads a registry CSV and a reports JSONL file into a dataset.
func LoadFiles(firmsPath, reportsPath string) (*Dataset, error) {
	ff, err := os.Open(firmsPath)
	if err != nil {
		return nil, fmt.Errorf("open firms: %w", err)
	}
	list, err := firms.ParseCSV(ff, region.China())
	_ = ff.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", firmsPath, err)
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
