package simulate

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"iter"

	"github.com/layoffwatch/layoffwatch/internal/report"
)

// WriteJSONL writes reports in the wire format, one JSON object a line, and
// returns how many it wrote. Pass a simulation's Reports method:
//
//	n, err := simulate.WriteJSONL(w, sim.Reports)
//
// report.AppendEncode writes them without allocating, so a million reports
// take a second or two.
func WriteJSONL(w io.Writer, reports iter.Seq[report.Report]) (int, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	buf := make([]byte, 0, 512)
	n := 0
	for r := range reports {
		buf = append(report.AppendEncode(buf[:0], r), '\n')
		if _, err := bw.Write(buf); err != nil {
			return n, fmt.Errorf("write reports: %w", err)
		}
		n++
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("write reports: %w", err)
	}
	return n, nil
}

// WriteEventsJSONL writes planted events, one JSON object a line.
func WriteEventsJSONL(w io.Writer, events []Event) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, e := range events {
		if err := enc.Encode(e); err != nil {
			return fmt.Errorf("write events: %w", err)
		}
	}
	return nil
}
