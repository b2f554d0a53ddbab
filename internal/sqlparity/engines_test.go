package sqlparity_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// engine runs SQL text on one ClickHouse.
type engine interface {
	// query runs a SELECT and returns its result as TabSeparatedWithNamesAndTypes.
	query(ctx context.Context, sql string) (string, error)
	// exec runs a statement that returns nothing (DDL, INSERT, SYSTEM, OPTIMIZE).
	exec(ctx context.Context, sql string) error
}

// server is ClickHouse 18.16 through its HTTP interface: the same text
// format as the other engine, produced by the server itself.
type server struct {
	url, db string
	client  *http.Client
}

func (s *server) post(ctx context.Context, sql string, db bool) (string, error) {
	u := s.url + "/"
	if db {
		u += "?database=" + url.QueryEscape(s.db)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(sql))
	if err != nil {
		return "", err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", errors.New(strings.TrimSpace(string(b)))
	}
	return string(b), nil
}

func (s *server) query(ctx context.Context, sql string) (string, error) {
	return s.post(ctx, sql+"\nFORMAT TabSeparatedWithNamesAndTypes", true)
}

func (s *server) exec(ctx context.Context, sql string) error {
	_, err := s.post(ctx, sql, !strings.HasPrefix(sql, "CREATE DATABASE"))
	return err
}

// worker is the current engine in the child process chdbworker.
type worker struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
	mu   sync.Mutex
	done chan struct{}
}

// workerDir holds the compiled chdbworker; TestMain removes it.
var workerDir string

// buildWorker compiles chdbworker once per test binary.
var buildWorker = sync.OnceValues(func() (string, error) {
	var err error
	if workerDir, err = os.MkdirTemp("", "layoffwatch-chdbworker-"); err != nil {
		return "", err
	}
	bin := filepath.Join(workerDir, "chdbworker")
	out, err := exec.Command("go", "build", "-o", bin, "./chdbworker").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./chdbworker: %w\n%s", err, out)
	}
	return bin, nil
})

// chdbLib is the engine library, or a failure that says how to install it.
func chdbLib(t *testing.T) string {
	t.Helper()
	const how = "install it with `CHDB_LIB_PATH=$(deploy/local/deps-chdb.sh) go test ./internal/sqlparity` (`make test` does this)"
	lib := os.Getenv("CHDB_LIB_PATH")
	if lib == "" {
		t.Fatalf("CHDB_LIB_PATH is not set: the parity test needs the current ClickHouse engine (chDB's libchdb.so): %s", how)
	}
	if _, err := os.Stat(lib); err != nil {
		t.Fatalf("CHDB_LIB_PATH=%s: %v: %s", lib, err, how)
	}
	return lib
}

// startWorker runs the engine in a child process whose time zone is tz.
func startWorker(t *testing.T, lib, tz string) *worker {
	t.Helper()
	bin, err := buildWorker()
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, t.TempDir())
	cmd.Env = append(os.Environ(), "CHDB_LIB_PATH="+lib, "TZ="+tz)
	cmd.ExtraFiles = []*os.File{w}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chdbworker: %v", err)
	}
	_ = w.Close()
	wk := &worker{cmd: cmd, in: in, out: bufio.NewReaderSize(r, 1<<20), done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(wk.done) }()
	t.Cleanup(func() {
		_ = in.Close()
		select {
		case <-wk.done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-wk.done
		}
		_ = r.Close()
		if s := strings.TrimSpace(stderr.String()); s != "" {
			t.Logf("chdbworker stderr:\n%s", s)
		}
	})
	return wk
}

func (w *worker) run(sql string) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	req, _ := json.Marshal(struct {
		SQL string `json:"sql"`
	}{sql})
	if _, err := w.in.Write(append(req, '\n')); err != nil {
		return "", fmt.Errorf("chdbworker: %w", err)
	}
	line, err := w.out.ReadBytes('\n')
	if err != nil {
		return "", fmt.Errorf("chdbworker died: %w", err)
	}
	var resp struct{ Out, Err string }
	if err := json.Unmarshal(line, &resp); err != nil {
		return "", fmt.Errorf("chdbworker answer: %w", err)
	}
	if resp.Err != "" {
		return "", errors.New(strings.TrimSpace(resp.Err))
	}
	return resp.Out, nil
}

func (w *worker) query(_ context.Context, sql string) (string, error) { return w.run(sql) }

func (w *worker) exec(_ context.Context, sql string) error {
	_, err := w.run(sql)
	return err
}

// bind puts args into the `?` placeholders of sql as clickhouse-go does
// for a server in time zone tz (its client-side binding), for the argument
// types the stores pass: strings, string slices, integers and times.
func bind(sql string, tz *time.Location, args ...any) (string, error) {
	var b strings.Builder
	n := 0
	inQuote := false
	for i := 0; i < len(sql); i++ {
		c := sql[i]
		switch {
		case c == '\\' && inQuote && i+1 < len(sql):
			b.WriteByte(c)
			i++
			b.WriteByte(sql[i])
			continue
		case c == '\'':
			inQuote = !inQuote
		case c == '?' && !inQuote:
			if n >= len(args) {
				return "", fmt.Errorf("more placeholders than the %d arguments", len(args))
			}
			v, err := literal(args[n], tz)
			if err != nil {
				return "", fmt.Errorf("argument %d: %w", n+1, err)
			}
			b.WriteString(v)
			n++
			continue
		}
		b.WriteByte(c)
	}
	if n != len(args) {
		return "", fmt.Errorf("%d placeholders, %d arguments", n, len(args))
	}
	return b.String(), nil
}

var quoteReplacer = strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\x00", `\0`)

func quote(s string) string { return "'" + quoteReplacer.Replace(s) + "'" }

func literal(v any, tz *time.Location) (string, error) {
	switch v := v.(type) {
	case string:
		return quote(v), nil
	case []string:
		q := make([]string, len(v))
		for i, s := range v {
			q[i] = quote(s)
		}
		return "[" + strings.Join(q, ", ") + "]", nil
	case time.Time:
		// clickhouse-go: a time in the server's zone as wall-clock text,
		// any other with its zone named
		if v.Location().String() == tz.String() {
			return v.Format("toDateTime('2006-01-02 15:04:05')"), nil
		}
		return fmt.Sprintf("toDateTime('%s', '%s')", v.Format("2006-01-02 15:04:05"), v.Location()), nil
	case int, int64, uint32, uint64:
		return fmt.Sprint(v), nil
	}
	return "", fmt.Errorf("type %T is not bound by this test", v)
}

// valuesInsert renders one batch of an insert as INSERT … VALUES for the
// current engine: cols are the slices InsertColumns takes, types the
// ClickHouse types of the columns. Times go in as Unix seconds (DateTime)
// or dates, so the text means the same in any server time zone.
func valuesInsert(head string, types []string, cols []any) (string, error) {
	if len(cols) != len(types) {
		return "", fmt.Errorf("%d columns, %d types", len(cols), len(types))
	}
	n := reflect.ValueOf(cols[0]).Len()
	var b strings.Builder
	b.WriteString(head)
	b.WriteString(" VALUES ")
	for r := range n {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c, col := range cols {
			if c > 0 {
				b.WriteString(", ")
			}
			cv := reflect.ValueOf(col)
			if cv.Len() != n {
				return "", fmt.Errorf("column %d has %d rows, column 1 %d", c+1, cv.Len(), n)
			}
			s, err := valueText(cv.Index(r).Interface(), types[c])
			if err != nil {
				return "", fmt.Errorf("column %d (%s): %w", c+1, types[c], err)
			}
			b.WriteString(s)
		}
		b.WriteByte(')')
	}
	return b.String(), nil
}

func valueText(v any, typ string) (string, error) {
	base := strings.TrimSuffix(strings.TrimPrefix(typ, "Nullable("), ")")
	switch v := v.(type) {
	case *time.Time:
		if v == nil {
			return "NULL", nil
		}
		return valueText(*v, typ)
	case time.Time:
		switch base {
		case "Date":
			return quote(v.UTC().Format(time.DateOnly)), nil
		case "DateTime":
			return strconv.FormatInt(v.Unix(), 10), nil
		}
		return "", fmt.Errorf("a time for a %s column", typ)
	case string:
		return quote(v), nil
	case uint8, uint16, uint32, uint64, int32, int64:
		return fmt.Sprint(v), nil
	}
	return "", fmt.Errorf("type %T is not rendered by this test", v)
}

// result is a query's answer as text: column names, types, rows.
type result struct {
	names, types string
	rows         []string
}

func parseTSV(s string) (result, error) {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	if len(lines) < 2 {
		return result{}, fmt.Errorf("no header in %q", s)
	}
	r := result{names: lines[0], types: lines[1], rows: lines[2:]}
	if len(r.rows) == 1 && r.rows[0] == "" {
		r.rows = nil
	}
	return r, nil
}

// diff compares two answers; ordered compares row by row, otherwise as
// multisets; names compares the column names too (Grafana refers to
// columns by name; the stores scan by position, and the name of an
// unaliased expression is how each version prints it). It says what
// differs, "" when nothing does.
func diff(a, b result, ordered, names bool) string {
	var out []string
	if names && a.names != b.names {
		out = append(out, fmt.Sprintf("names: %s | %s", a.names, b.names))
	}
	if a.types != b.types {
		out = append(out, fmt.Sprintf("types: %s | %s", a.types, b.types))
	}
	ra, rb := a.rows, b.rows
	if !ordered {
		ra, rb = slices.Sorted(slices.Values(ra)), slices.Sorted(slices.Values(rb))
	}
	if len(ra) != len(rb) {
		out = append(out, fmt.Sprintf("rows: %d | %d", len(ra), len(rb)))
	}
	shown := 0
	for i := 0; i < max(len(ra), len(rb)) && shown < 3; i++ {
		var x, y string
		if i < len(ra) {
			x = ra[i]
		}
		if i < len(rb) {
			y = rb[i]
		}
		if x != y {
			out = append(out, fmt.Sprintf("row %d:\n    18.16: %s\n    26.7:  %s", i+1, clip(x), clip(y)))
			shown++
		}
	}
	return strings.Join(out, "\n  ")
}

func clip(s string) string {
	if r := []rune(s); len(r) > 300 {
		return string(r[:300]) + "…"
	}
	return s
}

// ordered reports whether the result's order is the statement's: an ORDER
// BY or LIMIT outside any parenthesis.
func ordered(sql string) bool {
	depth := 0
	var quote byte
	upper := strings.ToUpper(sql)
	for i := 0; i < len(sql); i++ {
		c := sql[i]
		switch {
		case quote != 0:
			switch c {
			case '\\':
				i++
			case quote:
				quote = 0
			}
		case c == '\'' || c == '`':
			quote = c
		case c == '(':
			depth++
		case c == ')':
			depth--
		case depth == 0 && (i == 0 || !isWord(sql[i-1])):
			for _, kw := range []string{"ORDER BY", "LIMIT"} {
				if strings.HasPrefix(upper[i:], kw) && (i+len(kw) == len(sql) || !isWord(sql[i+len(kw)])) {
					return true
				}
			}
		}
	}
	return false
}

func isWord(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
