// Package alertevent owns the message the detector emits on the Kafka topic
// "alerts" and records in the ClickHouse table of the same name: one state
// change of one alert. The detector produces it; the alerts component
// consumes it. Neither owns the other, so the format lives here.
package alertevent

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Kinds of state change.
const (
	Firing       = "firing"        // the alert starts (or starts again after it resolved)
	LevelChanged = "level_changed" // still firing, at another level
	Resolved     = "resolved"      // the cause is gone (e.g. a corrected revision)
)

// Event is one state change of an alert. Version counts the alert's events
// from 1, so (ID, Version) identifies an event: consumers deduplicate on it.
type Event struct {
	ID            string          `json:"alert_id"`
	Version       uint32          `json:"version"`
	Kind          string          `json:"event"`
	Rule          string          `json:"rule"`
	Scope         string          `json:"scope"`
	Key           string          `json:"key"`
	Period        string          `json:"period"`
	Level         string          `json:"level"`
	PreviousLevel string          `json:"previous_level,omitempty"`
	Values        json.RawMessage `json:"values"`
	// Region is the county of a firm alert, or the region of a region
	// alert; Prefecture is derived from it. Industry is the firm's, or the
	// industry of a by-industry rule.
	Region     string `json:"region"`
	Prefecture string `json:"prefecture"`
	Industry   string `json:"industry,omitempty"`
	// Reported and Expected are the coverage of the month: the region's
	// firms (region alerts) or the firm's county's (firm alerts).
	Reported uint32 `json:"reported"`
	Expected uint32 `json:"expected"`
	Subject  string `json:"subject"` // firm name or region name, for people
	TitleZh  string `json:"title_zh"`
	TitleEn  string `json:"title_en"`
	// SummaryZh and SummaryEn are the rule's one-line summary with the
	// firing's numbers ("5家企业同月减员超过30%").
	SummaryZh string    `json:"summary_zh"`
	SummaryEn string    `json:"summary_en"`
	Plan      string    `json:"plan"`
	At        time.Time `json:"at"`
}

// ID returns the stable id of the alert of rule, scope, key and period.
func ID(rule, scope, key, period string) string {
	sum := sha256.Sum256([]byte(rule + "\x00" + scope + "\x00" + key + "\x00" + period))
	return hex.EncodeToString(sum[:10])
}

// Decode parses and checks an event.
func Decode(b []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(b, &e); err != nil {
		return e, fmt.Errorf("decode alert event: %w", err)
	}
	if e.ID == "" || e.Version == 0 || e.Rule == "" {
		return e, fmt.Errorf("decode alert event: id, version and rule are required")
	}
	switch e.Kind {
	case Firing, LevelChanged, Resolved:
	default:
		return e, fmt.Errorf("decode alert event: unknown event %q", e.Kind)
	}
	return e, nil
}
