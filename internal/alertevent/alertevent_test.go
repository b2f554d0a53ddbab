package alertevent

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestDecodeRoundTrip(t *testing.T) {
	e := Event{ID: ID("art41", ScopeFirm, "91620102MA0000001C", "2026-10"), Version: 2, Kind: LevelChanged, Rule: "art41", Scope: ScopeFirm,
		Key: "91620102MA0000001C", Period: "2026-10", Level: LevelI, PreviousLevel: LevelIV,
		LevelFacts: DefaultLevelFacts(LevelI), PreviousLevelFacts: DefaultLevelFacts(LevelIV), Values: json.RawMessage(`{"loss":25}`),
		Region: "620102", Prefecture: "620100", At: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	// the wire keeps its text form
	for _, want := range []string{`"scope":"firm"`, `"level":"I"`, `"previous_level":"IV"`, `"level_facts":{"name_zh":"红色"`, `"response_seconds":7200`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != e.ID || got.Version != 2 || got.Scope != ScopeFirm || got.Level != LevelI || got.PreviousLevel != LevelIV ||
		got.LevelFacts != e.LevelFacts || got.PreviousLevelFacts != e.PreviousLevelFacts || string(got.Values) != `{"loss":25}` {
		t.Fatalf("Decode = %+v", got)
	}
	if ID("a", ScopeFirm, "c", "d") == ID("a", ScopeFirm, "c", "e") || len(ID("a", ScopeFirm, "c", "d")) != 20 {
		t.Error("ids are not distinct or not 20 hex characters")
	}
	// ids hash the scope's name: the ids of alerts already emitted hold
	if got := ID("art41", ScopeFirm, "91620102MA0000001C", "2026-10"); got != "457a3594416ae175a305" {
		t.Errorf("ID changed: %s", got)
	}
}

func TestDecodeRefuses(t *testing.T) {
	for _, bad := range []string{
		`{}`,
		`[]`,
		`nul`,
		`{"alert_id":"x","version":1,"rule":"r","event":"exploded","scope":"firm","level":"I"}`,
		`{"alert_id":"x","version":1,"rule":"r","event":"firing","scope":"firm"}`,
		`{"alert_id":"x","version":1,"rule":"r","event":"firing","scope":"firm","level":"V"}`,
		`{"alert_id":"x","version":1,"rule":"r","event":"firing","scope":"city","level":"I"}`,
		`{"alert_id":"x","version":1,"rule":"r","event":"firing","level":"I"}`,
	} {
		if e, err := Decode([]byte(bad)); err == nil {
			t.Errorf("Decode(%s) accepted %+v", bad, e)
		}
	}
}

// TestEventWithoutFacts: an event recorded before events carried level
// facts decodes, and takes the shipped default plan's.
func TestEventWithoutFacts(t *testing.T) {
	old := `{"alert_id":"abc","version":2,"event":"level_changed","rule":"county_cluster","scope":"county","key":"620102","period":"2026-10","level":"II","previous_level":"III","values":{}}`
	e, err := Decode([]byte(old))
	if err != nil {
		t.Fatal(err)
	}
	if !e.LevelFacts.IsZero() || !e.PreviousLevelFacts.IsZero() {
		t.Fatalf("facts from nowhere: %+v", e)
	}
	if !e.FillDefaultLevelFacts() {
		t.Fatal("FillDefaultLevelFacts filled nothing")
	}
	if e.LevelFacts != DefaultLevelFacts(LevelII) || e.PreviousLevelFacts != DefaultLevelFacts(LevelIII) || e.LevelFacts.Response() != 2*time.Hour {
		t.Fatalf("filled %+v / %+v", e.LevelFacts, e.PreviousLevelFacts)
	}
	if e.FillDefaultLevelFacts() {
		t.Error("facts filled twice")
	}
	carried := Event{Level: LevelIV, LevelFacts: LevelFacts{NameZh: "蓝", NameEn: "navy"}}
	if carried.FillDefaultLevelFacts() || carried.LevelFacts.NameEn != "navy" {
		t.Errorf("carried facts replaced: %+v", carried.LevelFacts)
	}
}

func TestLevels(t *testing.T) {
	tests := []struct {
		text  string
		level Level
	}{{"I", LevelI}, {"II", LevelII}, {"III", LevelIII}, {"IV", LevelIV}}
	for i, tt := range tests {
		l, err := ParseLevel(tt.text)
		if err != nil || l != tt.level || l.String() != tt.text || l.Rank() != i+1 {
			t.Errorf("ParseLevel(%q) = %v, %v (rank %d)", tt.text, l, err, l.Rank())
		}
		for j, other := range tests {
			if got, want := l.AtLeast(other.level), i <= j; got != want {
				t.Errorf("%s.AtLeast(%s) = %v", l, other.level, got)
			}
		}
	}
	for _, bad := range []string{"", "V", "i", "I ", "0"} {
		if _, err := ParseLevel(bad); err == nil {
			t.Errorf("ParseLevel(%q) accepted", bad)
		}
	}
	var none Level
	if none.Valid() || none.String() != "" || none.AtLeast(LevelIV) || LevelI.AtLeast(none) || none.Rank() != 5 {
		t.Error("the zero level is a level")
	}
	if _, err := Level(7).MarshalText(); err == nil {
		t.Error("level 7 marshalled")
	}
	if got := strings.Join(func() []string {
		var s []string
		for _, l := range Levels() {
			s = append(s, l.String())
		}
		return s
	}(), ","); got != "I,II,III,IV" {
		t.Errorf("Levels() = %s", got)
	}
}

func TestScopes(t *testing.T) {
	for i, name := range ScopeNames() {
		s, err := ParseScope(name)
		if err != nil || s.String() != name || int(s) != i+1 || s.IsRegion() != (s != ScopeFirm) {
			t.Errorf("ParseScope(%q) = %v, %v", name, s, err)
		}
		b, err := s.MarshalText()
		var back Scope
		if err != nil || back.UnmarshalText(b) != nil || back != s {
			t.Errorf("%s does not survive text: %q, %v", name, b, err)
		}
	}
	for _, bad := range []string{"Firm", "city", " county"} {
		if _, err := ParseScope(bad); err == nil {
			t.Errorf("ParseScope(%q) accepted", bad)
		}
	}
	if _, err := Scope(9).MarshalText(); err == nil {
		t.Error("scope 9 marshalled")
	}
}

// FuzzDecode: an event read from Kafka either decodes with its required
// fields or is refused; nothing panics; what decodes encodes again.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"alert_id":"abc","version":1,"event":"firing","rule":"art41","scope":"firm","key":"k","period":"2026-10","level":"IV","values":{}}`))
	f.Add([]byte(`{"alert_id":"abc","version":2,"event":"level_changed","rule":"c","scope":"county","key":"620102","period":"2026-10","level":"I","previous_level":"II","level_facts":{"name_zh":"红","response_seconds":7200},"values":{}}`))
	f.Add([]byte(`{"alert_id":"abc","version":0}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Decode(b)
		if err != nil {
			return
		}
		if e.ID == "" || e.Version == 0 || e.Rule == "" || (e.Kind != Firing && e.Kind != LevelChanged && e.Kind != Resolved) ||
			!e.Level.Valid() || !e.Scope.Valid() {
			t.Fatalf("accepted %+v", e)
		}
		if _, err := json.Marshal(e); err != nil {
			t.Fatalf("a decoded event does not encode: %v", err)
		}
	})
}
