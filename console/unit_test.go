package console

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/label"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

func TestMessagesSameKeys(t *testing.T) {
	for k := range messages[langZH] {
		if _, ok := messages[langEN][k]; !ok {
			t.Errorf("key %s has no English", k)
		}
	}
	for k := range messages[langEN] {
		if _, ok := messages[langZH][k]; !ok {
			t.Errorf("key %s has no Chinese", k)
		}
	}
	// every code shown through a prefix has words in both languages
	for prefix, codes := range map[string][]string{"m_": Methods, "f_": Findings, "ms_": Measures, "v_": Verdicts, "st_": Statuses, "act_": Actions} {
		for _, c := range codes {
			for lang, m := range messages {
				if m[prefix+c] == "" {
					t.Errorf("%s: no text for %s%s", lang, prefix, c)
				}
			}
		}
	}
}

func TestCovers(t *testing.T) {
	tests := []struct {
		scope, code string
		want        bool
	}{
		{"620102", "620102", true},
		{"620102", "620103", false},
		{"620102", "620100", false}, // the prefecture above
		{"620102", "620000", false},
		{"620100", "620102", true},
		{"620100", "620100", true},
		{"620100", "620402", false},
		{"620100", "620000", false},
		{"620000", "620402", true},
		{"620000", "620000", true},
		{"620000", "110101", false},
		{"620000", "62", false},
		{"620102", "", false},
		{"", "620102", false},
		{"620100", "6201020", false},
	}
	for _, tt := range tests {
		if got := covers(tt.scope, tt.code); got != tt.want {
			t.Errorf("covers(%s, %s) = %v, want %v", tt.scope, tt.code, got, tt.want)
		}
	}
}

func TestApply(t *testing.T) {
	now := time.Date(2026, 3, 10, 8, 0, 0, 0, time.UTC)
	verified := Case{AlertID: "a", Seq: 2, Status: StatusVerified, Ack: &CaseAck{By: "x"}, Verification: &Verification{Finding: "closure"}}
	closed := verified
	closed.Status, closed.Verdict, closed.Seq = StatusClosed, "true_warning", 3
	tests := []struct {
		name    string
		from    Case
		act     Action
		role    Role
		status  string
		errKey  string
		checkFn func(Case) bool
	}{
		{name: "ack", from: Case{Status: StatusNew}, act: Action{Kind: "ack", Comment: "ok"}, status: StatusAcknowledged,
			checkFn: func(c Case) bool { return c.Ack != nil && c.Ack.Comment == "ok" && c.Seq == 1 }},
		{name: "ack twice", from: Case{Status: StatusAcknowledged, Ack: &CaseAck{By: "y"}}, act: Action{Kind: "ack"}, errKey: "err_acked"},
		{name: "verify acknowledges first", from: Case{Status: StatusNew}, act: Action{Kind: "verify", Method: "phone", Finding: "seasonal", ContactedAt: now.Add(-time.Hour)},
			status: StatusVerified, checkFn: func(c Case) bool { return c.Ack != nil && c.Verification.Finding == "seasonal" }},
		{name: "verify in the future", from: Case{Status: StatusNew}, act: Action{Kind: "verify", Method: "phone", Finding: "seasonal", ContactedAt: now.Add(time.Hour)}, errKey: "err_contacted"},
		{name: "verify unknown method", from: Case{Status: StatusNew}, act: Action{Kind: "verify", Method: "fax", Finding: "seasonal", ContactedAt: now}, errKey: "err_verify"},
		{name: "respond before verify", from: Case{Status: StatusAcknowledged}, act: Action{Kind: "respond", Measure: "training", Workers: 3}, errKey: "err_order"},
		{name: "respond", from: verified, act: Action{Kind: "respond", Measure: "training", Workers: 3}, status: StatusResponding,
			checkFn: func(c Case) bool { return len(c.Measures) == 1 && c.Measures[0].Workers == 3 }},
		{name: "respond negative workers", from: verified, act: Action{Kind: "respond", Measure: "training", Workers: -1}, errKey: "err_measure"},
		{name: "respond unknown measure", from: verified, act: Action{Kind: "respond", Measure: "bonus", Workers: 1}, errKey: "err_measure"},
		{name: "close before verify", from: Case{Status: StatusAcknowledged}, act: Action{Kind: "close", Verdict: "false_alarm"}, errKey: "err_order"},
		{name: "close without verdict", from: verified, act: Action{Kind: "close"}, errKey: "err_verdict"},
		{name: "close", from: verified, act: Action{Kind: "close", Verdict: "false_alarm"}, status: StatusClosed},
		{name: "act on closed", from: closed, act: Action{Kind: "respond", Measure: "training"}, errKey: "err_closed"},
		{name: "comment on closed", from: closed, act: Action{Kind: "comment", Comment: "note"}, status: StatusClosed},
		{name: "empty comment", from: verified, act: Action{Kind: "comment", Comment: " "}, errKey: "err_empty"},
		{name: "reopen by official", from: closed, act: Action{Kind: "reopen"}, role: Official, errKey: "err_forbidden"},
		{name: "reopen by supervisor", from: closed, act: Action{Kind: "reopen"}, role: Supervisor, status: StatusVerified,
			checkFn: func(c Case) bool { return c.Verdict == "" && c.ClosedAt.IsZero() }},
		{name: "reopen open case", from: verified, act: Action{Kind: "reopen"}, role: Supervisor, errKey: "err_not_closed"},
		{name: "text too long", from: verified, act: Action{Kind: "comment", Comment: strings.Repeat("字", MaxText+1)}, errKey: "err_text"},
		{name: "invalid utf-8", from: verified, act: Action{Kind: "comment", Comment: "\xff"}, errKey: "err_text"},
		{name: "unknown action", from: verified, act: Action{Kind: "delete"}, errKey: "err_action"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			role := tt.role
			if role == "" {
				role = Official
			}
			got, err := apply(tt.from, tt.act, "me", role, now)
			if tt.errKey != "" {
				var ae *actionError
				if !errors.As(err, &ae) || ae.key != tt.errKey {
					t.Fatalf("err %v, want %s", err, tt.errKey)
				}
				if got.Seq != tt.from.Seq {
					t.Error("a refused action changed the case")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != tt.status || got.Seq != tt.from.Seq+1 {
				t.Errorf("status %s seq %d, want %s %d", got.Status, got.Seq, tt.status, tt.from.Seq+1)
			}
			if tt.checkFn != nil && !tt.checkFn(got) {
				t.Errorf("case %+v", got)
			}
		})
	}
}

func TestLabel(t *testing.T) {
	firm := Alert{ID: "x", Scope: "firm", Key: firmCG, Region: "620102", Period: "2026-02"}
	county := Alert{ID: "y", Scope: "county", Key: "620102", Region: "620102", Industry: "C", Period: "2026-02"}
	closed := func(verdict, finding string) Case {
		return Case{Status: StatusClosed, Verdict: verdict, Verification: &Verification{Finding: finding}, ClosedBy: "cg", CloseNote: "a\nb"}
	}
	tests := []struct {
		a       Alert
		c       Case
		kind    label.Kind
		key     string
		labeled bool
	}{
		{firm, closed("true_warning", "economic_layoff"), label.Layoff, firm.Key, true},
		{firm, closed("true_warning", "closure"), label.Closure, firm.Key, true},
		{firm, closed("false_alarm", "other"), label.FalseAlarm, firm.Key, true},
		{firm, closed("seasonal", "seasonal"), label.Seasonal, firm.Key, true},
		{firm, closed("data_error", "data_error"), label.DataError, firm.Key, true},
		{county, closed("true_warning", "economic_layoff"), label.RegionalDownturn, "620102/C", true},
		{firm, Case{Status: StatusVerified}, "", "", false},
	}
	for _, tt := range tests {
		l, ok := Label(tt.a, tt.c)
		if ok != tt.labeled || ok && (l.Kind != tt.kind || l.Key != tt.key || l.From != report.NewPeriod(2026, 2) || l.Validate(nil) != nil || strings.Contains(l.Note, "\n")) {
			t.Errorf("Label(%s, %s) = %+v, %v", tt.a.Scope, tt.c.Verdict, l, ok)
		}
	}
}

func TestPasswords(t *testing.T) {
	h, err := HashPassword("a long enough password")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q", h)
	}
	if !CheckPassword(h, "a long enough password") || CheckPassword(h, "a long enough passworD") || CheckPassword("", "") || CheckPassword("$argon2id$x", "a") {
		t.Error("CheckPassword")
	}
	if _, err := HashPassword("short"); err == nil {
		t.Error("a short password was hashed")
	}
	h2, _ := HashPassword("a long enough password")
	if h == h2 {
		t.Error("two hashes of a password are equal (no salt)")
	}
}

func TestChartSeriesExpectation(t *testing.T) {
	var pts []seriesPoint
	start := report.NewPeriod(2023, 1)
	for i := 0; i < 36; i++ {
		p := start.Add(i)
		hc := 1000.0
		if p.Month() == time.January {
			hc = 900 // a winter dip every year
		}
		pts = append(pts, seriesPoint{Period: p, Headcount: hc})
	}
	series, expected := chartSeries(pts)
	if len(series) != 24 || series[0].Period != "2024-01" {
		t.Fatalf("series %d from %s", len(series), series[0].Period)
	}
	byPeriod := map[string]float64{}
	for _, e := range expected {
		byPeriod[e.Period] = e.Value
	}
	if byPeriod["2025-01"] != 900 || byPeriod["2025-02"] != 1000 {
		t.Errorf("expected January %v, February %v; want the seasonal dip and return", byPeriod["2025-01"], byPeriod["2025-02"])
	}
	keys := make([]string, 0, len(byPeriod))
	for k := range byPeriod {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if keys[0] != "2024-02" {
		t.Errorf("first expectation %s, want 2024-02 (the first month with a year before it)", keys[0])
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{"/warnings/x": "/warnings/x", "//evil.example": "/inbox", "https://evil.example": "/inbox",
		"/\\evil": "/inbox", "": "/inbox", "/inbox\r\nX: y": "/inbox"} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDemoAccounts(t *testing.T) {
	h := newHarness(t)
	list, err := DemoAccounts(context.Background(), h.ch, "620102")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 4 || list[0].Region != "620000" || list[1].Region != "620100" || list[2].Region != "620102" {
		t.Fatalf("accounts %+v", list)
	}
	for _, a := range list {
		if code := h.client().trySignIn(a.Username, a.Password); code != 303 {
			t.Errorf("%s does not sign in: %d", a.Username, code)
		}
	}
	// a second run resets the passwords
	again, err := DemoAccounts(context.Background(), h.ch, "620102")
	if err != nil || again[0].Password == list[0].Password {
		t.Fatalf("second run: %v", err)
	}
	if code := h.client().trySignIn(again[0].Username, again[0].Password); code != 303 {
		t.Errorf("after a reset: %d", code)
	}
	if !strings.Contains(DemoTable("http://x", again), "province") {
		t.Error("table")
	}
}

// FuzzApply: whatever a form posts, a step either is refused and leaves the
// case as it was, or moves it one step with a known status; nothing panics.
func FuzzApply(f *testing.F) {
	f.Add("verify", "phone", "seasonal", "", "", 3, "note", "", int64(0))
	f.Add("respond", "", "", "training", "", -1, "", "", int64(1))
	f.Add("close", "", "", "", "false_alarm", 0, "\xff", "", int64(2))
	f.Add("assign", "", "", "", "", 0, "", "cg", int64(3))
	now := time.Date(2026, 3, 10, 8, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, kind, method, finding, measure, verdict string, workers int, note, assignee string, from int64) {
		starts := []Case{{Status: StatusNew}, {Status: StatusAcknowledged, Ack: &CaseAck{}, Seq: 1},
			{Status: StatusVerified, Ack: &CaseAck{}, Verification: &Verification{}, Seq: 2}, {Status: StatusClosed, Ack: &CaseAck{}, Verification: &Verification{}, Seq: 3}}
		c := starts[int(uint64(from)%uint64(len(starts)))]
		a := Action{Kind: kind, Method: method, Finding: finding, Measure: measure, Verdict: verdict, Workers: workers, Note: note, Comment: note,
			Assignee: assignee, ContactedAt: now.Add(-time.Hour)}
		next, err := apply(c, a, "me", Supervisor, now)
		if err != nil {
			if next.Seq != c.Seq || next.Status != c.Status {
				t.Fatalf("a refused step changed the case: %+v → %+v", c, next)
			}
			return
		}
		if next.Seq != c.Seq+1 || !slices.Contains(Statuses, next.Status) {
			t.Fatalf("step %q: %+v → %+v", kind, c, next)
		}
		if next.Status == StatusClosed && !slices.Contains(Verdicts, next.Verdict) {
			t.Fatalf("closed without a verdict: %+v", next)
		}
		if next.Status != StatusNew && next.Ack == nil {
			t.Fatalf("%s without an acknowledgement", next.Status)
		}
	})
}
