package alertevent

import (
	"encoding/json"
	"testing"
	"time"
)

func TestDecodeRoundTrip(t *testing.T) {
	e := Event{ID: ID("art41", "firm", "91620102MA0000001C", "2026-10"), Version: 2, Kind: LevelChanged, Rule: "art41", Scope: "firm",
		Key: "91620102MA0000001C", Period: "2026-10", Level: "I", PreviousLevel: "IV", Values: json.RawMessage(`{"loss":25}`),
		Region: "620102", Prefecture: "620100", At: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil || got.ID != e.ID || got.Version != 2 || got.PreviousLevel != "IV" || string(got.Values) != `{"loss":25}` {
		t.Fatalf("Decode = %+v, %v", got, err)
	}
	for _, bad := range []string{`{}`, `{"alert_id":"x","version":1,"rule":"r","event":"exploded"}`, `[]`, `nul`} {
		if _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("Decode(%s) accepted", bad)
		}
	}
	if ID("a", "b", "c", "d") == ID("a", "b", "c", "e") || len(ID("a", "b", "c", "d")) != 20 {
		t.Error("ids are not distinct or not 20 hex characters")
	}
}

// FuzzDecode: an event read from Kafka either decodes with its required
// fields or is refused; nothing panics.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"alert_id":"abc","version":1,"event":"firing","rule":"art41","scope":"firm","key":"k","period":"2026-10","level":"IV","values":{}}`))
	f.Add([]byte(`{"alert_id":"abc","version":0}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Decode(b)
		if err != nil {
			return
		}
		if e.ID == "" || e.Version == 0 || e.Rule == "" || (e.Kind != Firing && e.Kind != LevelChanged && e.Kind != Resolved) {
			t.Fatalf("accepted %+v", e)
		}
	})
}
