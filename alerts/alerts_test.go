package alerts

import (
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/alertevent"
)

func testConfig(t *testing.T) *Config {
	t.Helper()
	c := &Config{
		Ack:   AckConfig{Secret: "0123456789abcdef-secret"},
		Links: Links{AckBaseURL: "http://127.0.0.1:9104"},
		Recipients: []Recipient{
			{Name: "城关区", Email: "chengguan@example.cn", Region: "620102"},
			{Name: "七里河区", Email: "qilihe@example.cn", Region: "620103"},
			{Name: "兰州市", Email: "lanzhou@example.cn", Region: "620100"},
			{Name: "兰州市(I only)", Email: "lanzhou-chief@example.cn", Region: "620100", MinLevel: "I"},
			{Name: "白银市", Email: "baiyin@example.cn", Region: "620400"},
			{Name: "省厅", Email: "province@example.cn", Region: "620000", Language: "en"},
			{Name: "建筑业专员", Email: "construction@example.cn", Region: "620102", Industries: []string{"E"}},
			{Name: "关闭专员", Email: "closures@example.cn", Region: "620000", Rules: []string{"closure"}},
			{Name: "督查", Email: "audit@example.cn", Region: "620000", MinLevel: "I"},
		},
		Routes: []Route{{Match: RouteMatch{Rules: []string{"county_cluster"}}, Recipients: []string{"audit@example.cn"}}},
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

func emails(rs []routed) string {
	var out []string
	for _, r := range rs {
		out = append(out, strings.Split(r.r.Email, "@")[0])
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func TestRoute(t *testing.T) {
	rt := NewRouter(testConfig(t))
	tests := []struct {
		name  string
		event alertevent.Event
		extra int
		want  string
	}{
		{"firm IV: county only", alertevent.Event{Rule: "art41", Scope: alertevent.ScopeFirm, Level: alertevent.LevelIV, Region: "620102", Industry: "C"}, 0, "chengguan"},
		{"firm III: county only", alertevent.Event{Rule: "mass_layoff", Scope: alertevent.ScopeFirm, Level: alertevent.LevelIII, Region: "620102", Industry: "C"}, 0, "chengguan"},
		{"firm II: county and prefecture", alertevent.Event{Rule: "x", Scope: alertevent.ScopeFirm, Level: alertevent.LevelII, Region: "620102", Industry: "C"}, 0, "chengguan,lanzhou"},
		{"firm I: up to the province", alertevent.Event{Rule: "major_cut", Scope: alertevent.ScopeFirm, Level: alertevent.LevelI, Region: "620102", Industry: "C"}, 0, "audit,chengguan,lanzhou,lanzhou-chief,province"},
		{"industry filter", alertevent.Event{Rule: "art41", Scope: alertevent.ScopeFirm, Level: alertevent.LevelIV, Region: "620102", Industry: "E"}, 0, "chengguan,construction"},
		{"rule filter", alertevent.Event{Rule: "closure", Scope: alertevent.ScopeFirm, Level: alertevent.LevelIV, Region: "620103", Industry: "C"}, 0, "qilihe"},
		{"rule filter at level I", alertevent.Event{Rule: "closure", Scope: alertevent.ScopeFirm, Level: alertevent.LevelI, Region: "620103", Industry: "C"}, 0, "audit,closures,lanzhou,lanzhou-chief,province,qilihe"},
		{"county II with a route", alertevent.Event{Rule: "county_cluster", Scope: alertevent.ScopeCounty, Level: alertevent.LevelII, Region: "620102"}, 0, "audit,chengguan,lanzhou"},
		{"prefecture III", alertevent.Event{Rule: "prefecture_rate", Scope: alertevent.ScopePrefecture, Level: alertevent.LevelIII, Region: "620400"}, 0, "baiyin"},
		{"prefecture I", alertevent.Event{Rule: "prefecture_total", Scope: alertevent.ScopePrefecture, Level: alertevent.LevelI, Region: "620400"}, 0, "audit,baiyin,province"},
		{"province", alertevent.Event{Rule: "x", Scope: alertevent.ScopeProvince, Level: alertevent.LevelIII, Region: "620000"}, 0, "province"},
		{"escalated once: prefecture too", alertevent.Event{Rule: "art41", Scope: alertevent.ScopeFirm, Level: alertevent.LevelIV, Region: "620102", Industry: "C"}, 1, "chengguan,lanzhou"},
		{"escalated twice: province too", alertevent.Event{Rule: "art41", Scope: alertevent.ScopeFirm, Level: alertevent.LevelIV, Region: "620102", Industry: "C"}, 2, "chengguan,lanzhou,province"},
		{"no county official", alertevent.Event{Rule: "art41", Scope: alertevent.ScopeFirm, Level: alertevent.LevelIV, Region: "620502", Industry: "C"}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := emails(rt.Route(tt.event, tt.extra)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAckLink(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s := NewSigner([]byte("0123456789abcdef-secret"), 24*time.Hour, clock)
	link := s.Link("http://x/", "abc123", "Official@Example.cn")
	u, err := url.Parse(link)
	if err != nil || u.Path != "/ack" {
		t.Fatalf("link %s", link)
	}
	q := u.Query()
	tests := []struct {
		name    string
		a, r, e string
		sig     string
		later   time.Duration
		want    error
	}{
		{"valid", q.Get("a"), q.Get("r"), q.Get("e"), q.Get("s"), 0, nil},
		{"valid until the end", q.Get("a"), q.Get("r"), q.Get("e"), q.Get("s"), 24 * time.Hour, nil},
		{"expired", q.Get("a"), q.Get("r"), q.Get("e"), q.Get("s"), 24*time.Hour + time.Second, ErrExpired},
		{"other alert", "abc124", q.Get("r"), q.Get("e"), q.Get("s"), 0, ErrBadSignature},
		{"other recipient", q.Get("a"), "someone@else.cn", q.Get("e"), q.Get("s"), 0, ErrBadSignature},
		{"longer expiry", q.Get("a"), q.Get("r"), "99999999999", q.Get("s"), 0, ErrBadSignature},
		{"tampered signature", q.Get("a"), q.Get("r"), q.Get("e"), "x" + q.Get("s")[1:], 0, ErrBadSignature},
		{"no signature", q.Get("a"), q.Get("r"), q.Get("e"), "", 0, ErrBadSignature},
		{"garbage expiry", q.Get("a"), q.Get("r"), "soon", q.Get("s"), 0, ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC).Add(tt.later)
			if err := s.Verify(tt.a, tt.r, tt.e, tt.sig); !errors.Is(err, tt.want) {
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
	other := NewSigner([]byte("another-secret-0123456"), 24*time.Hour, clock)
	now = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	if err := other.Verify(q.Get("a"), q.Get("r"), q.Get("e"), q.Get("s")); !errors.Is(err, ErrBadSignature) {
		t.Errorf("a link of another key verified: %v", err)
	}
}

func TestSilence(t *testing.T) {
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	win := func(s Silence) Silence {
		s.Starts, s.Ends, s.Author, s.Reason = at.Add(-time.Hour), at.Add(time.Hour), "张三", "已核实"
		return s
	}
	firm := alertevent.Event{Rule: "art41", Scope: alertevent.ScopeFirm, Key: "91620102MA0000001C", Region: "620102", Level: alertevent.LevelIV}
	tests := []struct {
		name string
		s    Silence
		e    alertevent.Event
		at   time.Time
		want bool
	}{
		{"county", win(Silence{Region: "620102"}), firm, at, true},
		{"its prefecture", win(Silence{Region: "620100"}), firm, at, true},
		{"the province", win(Silence{Region: "620000"}), firm, at, true},
		{"another county", win(Silence{Region: "620103"}), firm, at, false},
		{"another prefecture", win(Silence{Region: "621000"}), firm, at, false},
		{"rule", win(Silence{Rule: "art41"}), firm, at, true},
		{"another rule", win(Silence{Rule: "closure"}), firm, at, false},
		{"firm", win(Silence{FirmID: "91620102MA0000001C"}), firm, at, true},
		{"rule and region", win(Silence{Rule: "art41", Region: "620103"}), firm, at, false},
		{"before the window", win(Silence{Rule: "art41"}), firm, at.Add(-2 * time.Hour), false},
		{"at the end", win(Silence{Rule: "art41"}), firm, at.Add(time.Hour), false},
		{"expired by hand", func() Silence { s := win(Silence{Rule: "art41"}); s.Expired = true; return s }(), firm, at, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.Matches(tt.e, tt.at); got != tt.want {
				t.Errorf("Matches = %v, want %v", got, tt.want)
			}
		})
	}
	if err := (Silence{Author: "a", Reason: "b", Starts: at, Ends: at.Add(time.Hour)}).Validate(); err == nil {
		t.Error("a silence that mutes everything validated")
	}
	if err := (Silence{Rule: "art41", Author: "a", Reason: "b\r\nBcc: x", Starts: at, Ends: at.Add(time.Hour)}).Validate(); err == nil {
		t.Error("a CRLF in the reason validated")
	}
}

func TestLoadConfigErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown key", "ack: {secret: 0123456789abcdef0}\nlinks: {ack_base_url: http://x}\nrecipeints: []\n", "field recipeints not found"},
		{"no recipients", "ack: {secret: 0123456789abcdef0}\nlinks: {ack_base_url: http://x}\n", "recipients: none"},
		{"short secret", "ack: {secret: short}\nlinks: {ack_base_url: http://x}\nrecipients: [{email: a@b.cn, region: '620102'}]\n", "at least 16"},
		{"bad region", "ack: {secret: 0123456789abcdef0}\nlinks: {ack_base_url: http://x}\nrecipients: [{email: a@b.cn, region: '999999'}]\n", "not a division code of mainland China"},
		{"bad email", "ack: {secret: 0123456789abcdef0}\nlinks: {ack_base_url: http://x}\nrecipients: [{email: 'a@b.cn\r\nBcc: c@d.cn', region: '620102'}]\n", "not a plain address"},
		{"bad level", "ack: {secret: 0123456789abcdef0}\nlinks: {ack_base_url: http://x}\nrecipients: [{email: a@b.cn, region: '620102', min_level: V}]\n", "min_level"},
		{"route to nobody known", "ack: {secret: 0123456789abcdef0}\nlinks: {ack_base_url: http://x}\nrecipients: [{email: a@b.cn, region: '620102'}]\nroutes: [{recipients: [x@y.cn]}]\n", "not defined"},
		{"bad route level", "ack: {secret: 0123456789abcdef0}\nlinks: {ack_base_url: http://x}\nrecipients: [{email: a@b.cn, region: '620102'}]\nroutes: [{match: {min_level: II+}, recipients: [a@b.cn]}]\n", `routes[0]: min_level: level "II+" is not one of I, II, III, IV`},
		{"response deadlines", "ack: {secret: 0123456789abcdef0}\nlinks: {ack_base_url: http://x}\nrecipients: [{email: a@b.cn, region: '620102'}]\nresponse: {II: 2h}\n", "line 4: response: the response deadlines are set by the risk plan"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "alerts.yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadConfig(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("LoadConfig error %v, want it to name the file and contain %q", err, tt.want)
			}
		})
	}
}

// TestShippedConfigs loads the alert configs the repository ships: the demo's
// and docker-compose's (whose ack secret is a Docker secret, here a file).
func TestShippedConfigs(t *testing.T) {
	for _, p := range []string{"../deploy/local/alerts.yaml", "../deploy/alerts.yaml"} {
		c, err := LoadConfig(p)
		if err != nil {
			t.Fatal(err)
		}
		// no secret in the repository: Run generates one into --data-dir
		if c.Ack.key != nil || c.Ack.Secret != "" || c.Ack.SecretFile != "" {
			t.Errorf("%s configures an ack secret", p)
		}
		if p == "../deploy/alerts.yaml" && (c.SMTP.Host != "mailpit" || len(c.Recipients) == 0) {
			t.Fatalf("compose alerts config: %+v", c.SMTP)
		}
	}
}

// FuzzParseConfig: any file either loads into a valid configuration or is
// refused with an error naming it; nothing panics.
func FuzzParseConfig(f *testing.F) {
	for _, p := range []string{"../deploy/local/alerts.yaml", "../deploy/alerts.yaml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("recipients: [{email: a@b.cn, region: '620102'}]\nack: {secret: 0123456789abcdef0}\nlinks: {ack_base_url: http://x}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig("fuzz.yaml", data)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		// no secret configured: Run generates one into the data directory
		generated := c.Ack.Secret == "" && c.Ack.SecretFile == "" && c.Ack.key == nil
		if len(c.Recipients) == 0 || len(c.Ack.key) < 16 && !generated || c.Links.AckBaseURL == "" {
			t.Fatalf("an invalid config loaded: %+v", c)
		}
		for _, r := range c.Recipients {
			if !r.minLevel.Valid() || strings.ContainsAny(r.Email+r.Name, "\r\n") {
				t.Fatalf("an invalid recipient loaded: %+v", r)
			}
		}
	})
}
