package report

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestEachLine(t *testing.T) {
	long := strings.Repeat("x", MaxMessageBytes)    // with its newline, longer than the reader's buffer; at the limit
	huge := strings.Repeat("y", MaxMessageBytes+10) // over the limit: only its size is kept
	tests := []struct {
		name string
		in   string
		want []string // "n:size:line"
	}{
		{name: "empty", in: "", want: nil},
		{name: "lf", in: "a\nbc\n", want: []string{"1:1:a", "2:2:bc"}},
		{name: "crlf and no final newline", in: "a\r\nbc", want: []string{"1:1:a", "2:2:bc"}},
		{name: "blank lines are lines", in: "\n\nz\n", want: []string{"1:0:", "2:0:", "3:1:z"}},
		{name: "a line longer than the buffer", in: long + "\nq\n", want: []string{fmt.Sprintf("1:%d:%s", len(long), long), "2:1:q"}},
		{name: "a line over the limit keeps only its size", in: "a\n" + huge + "\r\nb\n",
			want: []string{"1:1:a", fmt.Sprintf("2:%d:", len(huge)), "3:1:b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			err := EachLine(strings.NewReader(tt.in), func(n int, line []byte, size int) error {
				got = append(got, fmt.Sprintf("%d:%d:%s", n, size, line))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("got %.200q\nwant %.200q", got, tt.want)
			}
		})
	}
}

func TestEachLineStopsOnError(t *testing.T) {
	stop := errors.New("stop")
	calls := 0
	err := EachLine(strings.NewReader("a\nb\nc\n"), func(n int, _ []byte, _ int) error {
		calls++
		if n == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != 2 {
		t.Fatalf("err %v after %d calls, want stop after 2", err, calls)
	}
}
