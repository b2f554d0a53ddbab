package report

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// EachLine calls fn for every line of r (JSON lines: one report a line),
// numbered from 1, without its line ending (\n or \r\n), with the line's
// size in bytes. A line longer than MaxMessageBytes is not kept in memory:
// fn gets an empty line and its size, so the caller can refuse it as
// TooLarge and go on. It is the one reader of report files (`validate`,
// `plan test`).
func EachLine(r io.Reader, fn func(n int, line []byte, size int) error) error {
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
				if len(buf) > MaxMessageBytes+2 {
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
				return fmt.Errorf("read line %d: %w", n, err)
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
