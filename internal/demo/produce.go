package demo

import (
	"context"
	"fmt"
	"io"
	"iter"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/segmentio/kafka-go"
	"golang.org/x/term"

	"github.com/layoffwatch/layoffwatch/internal/report"
)

// Produce sends reports to Kafka, keyed by firm, in batches, each
// acknowledged by all in-sync replicas, and returns how many it sent. On a
// terminal, progress shows on stderr for long runs (NewProgress).
func Produce(ctx context.Context, w *kafka.Writer, reports iter.Seq[report.Report], count int, stderr io.Writer) (int, error) {
	bar := NewProgress(stderr, count, "producing reports")
	defer func() { _ = bar.Finish() }()
	const batch = 5000
	msgs := make([]kafka.Message, 0, batch)
	n := 0
	flush := func() error {
		if len(msgs) == 0 {
			return nil
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			return fmt.Errorf("produce reports: %w", err)
		}
		n += len(msgs)
		_ = bar.Add(len(msgs))
		msgs = msgs[:0]
		return nil
	}
	for r := range reports {
		msgs = append(msgs, kafka.Message{Key: []byte(r.FirmID), Value: report.AppendEncode(nil, r)})
		if len(msgs) == batch {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	return n, flush()
}

// NewProgress shows progress on w when it is a terminal and the run is
// long (50,000 reports or more), and nothing otherwise.
func NewProgress(w io.Writer, total int, what string) *progressbar.ProgressBar {
	f, isFile := w.(*os.File)
	visible := total >= 50000 && isFile && term.IsTerminal(int(f.Fd()))
	return progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(what),
		progressbar.OptionSetVisibility(visible),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("reports"),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
}
