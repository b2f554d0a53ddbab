package sqlparity_test

import (
	"testing"
	"time"
)

func TestOrdered(t *testing.T) {
	for _, tc := range []struct {
		name, sql string
		want      bool
	}{
		{"top-level order", "SELECT a FROM t ORDER BY a", true},
		{"limit", "SELECT a FROM t LIMIT 3", true},
		{"order inside a subquery only", "SELECT a FROM (SELECT a FROM t ORDER BY a LIMIT 5) AS s", false},
		{"in a string", "SELECT 'ORDER BY x' FROM t", false},
		{"in an alias", "SELECT a AS `LIMIT` FROM t", false},
		{"part of a name", "SELECT order_by_x, limits FROM t", false},
		{"lower case", "select a from t order by a", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ordered(tc.sql); got != tc.want {
				t.Errorf("ordered(%q) = %v, want %v", tc.sql, got, tc.want)
			}
		})
	}
}

func TestBind(t *testing.T) {
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	for _, tc := range []struct {
		name, sql string
		tz        *time.Location
		args      []any
		want      string
		err       bool
	}{
		{"string and slice", "SELECT ? , has(?, x)", time.UTC, []any{`o'k\`, []string{"a", "b"}}, `SELECT 'o\'k\\' , has(['a', 'b'], x)`, false},
		{"time in the server's zone", "SELECT ?", time.UTC, []any{at}, "SELECT toDateTime('2026-03-04 05:06:07')", false},
		{"time in another zone", "SELECT ?", shanghai, []any{at}, "SELECT toDateTime('2026-03-04 05:06:07', 'UTC')", false},
		{"placeholder in a string stays", "SELECT '?', ?", time.UTC, []any{int64(3)}, "SELECT '?', 3", false},
		{"too few arguments", "SELECT ?, ?", time.UTC, []any{"a"}, "", true},
		{"too many arguments", "SELECT ?", time.UTC, []any{"a", "b"}, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := bind(tc.sql, tc.tz, tc.args...)
			if (err != nil) != tc.err || got != tc.want {
				t.Errorf("bind = %q, %v; want %q (error %v)", got, err, tc.want, tc.err)
			}
		})
	}
}
