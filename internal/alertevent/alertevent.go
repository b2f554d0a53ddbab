// Package alertevent owns the message the detector emits on the Kafka topic
// "alerts" and records in the ClickHouse table of the same name: one state
// change of one alert. The detector produces it; the alerts component
// consumes it. Neither owns the other, so the format lives here, with the
// vocabulary both speak: levels, scopes and what the plan says about a level
// (LevelFacts).
package alertevent

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
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
	ID            string `json:"alert_id"`
	Version       uint32 `json:"version"`
	Kind          string `json:"event"`
	Rule          string `json:"rule"`
	Scope         Scope  `json:"scope"`
	Key           string `json:"key"`
	Period        string `json:"period"`
	Level         Level  `json:"level"`
	PreviousLevel Level  `json:"previous_level,omitempty"` // level changes only
	// LevelFacts is what the plan that raised the event says about Level
	// (name, colour, action, response deadline); PreviousLevelFacts about
	// PreviousLevel. Events recorded before they carried facts decode with
	// none: see FillDefaultLevelFacts.
	LevelFacts         LevelFacts      `json:"level_facts,omitzero"`
	PreviousLevelFacts LevelFacts      `json:"previous_level_facts,omitzero"`
	Values             json.RawMessage `json:"values"`
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
	// Old says why the event is about a month past the detector's alert
	// horizon (`detect --alert-horizon`) — OldHistory, OldLateData or
	// OldPlanChanged — and is empty when it is not. An old warning is
	// recorded and shown like any other, but it is history, not an
	// emergency: officials are told in one summary, with no response
	// deadline, and it is never escalated.
	Old string `json:"old,omitempty"`
	// UrgentUntil is when the alert's month passes the horizon: the end of
	// the month's reporting window plus the horizon. After it the alert is
	// no longer escalated, and an event handled only after it (the alerts
	// component was down) is told in a summary like an old one. Zero on
	// events recorded before events carried it: urgent for ever, as then.
	UrgentUntil time.Time `json:"urgent_until,omitzero"`
}

// Reasons an event is old (Event.Old).
const (
	// OldHistory: the detector's first evaluation found it — a first start
	// on stored history, as when a bureau loads its past reports.
	OldHistory = "history"
	// OldLateData: reports, corrections or registry changes that landed
	// after the month's horizon raised it (or changed its level, or
	// resolved it).
	OldLateData = "late_data"
	// OldPlanChanged: a reloaded risk plan raised it.
	OldPlanChanged = "plan_changed"
	// OldLateDelivery: the alerts component handled the event only after
	// its UrgentUntil (it was down or behind); the detector does not emit it.
	OldLateDelivery = "late_delivery"
)

// Urgent reports whether the event is a current warning at t: not old,
// and its month not past the horizon at t.
func (e *Event) Urgent(t time.Time) bool {
	return e.Old == "" && (e.UrgentUntil.IsZero() || t.Before(e.UrgentUntil))
}

// ID returns the stable id of the alert of rule, scope, key and period.
func ID(rule string, scope Scope, key, period string) string {
	sum := sha256.Sum256([]byte(rule + "\x00" + scope.String() + "\x00" + key + "\x00" + period))
	return hex.EncodeToString(sum[:10])
}

// Decode parses and checks an event.
func Decode(b []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(b, &e); err != nil {
		return e, fmt.Errorf("decode alert event: %w", err)
	}
	if e.ID == "" || e.Version == 0 || e.Rule == "" {
		return e, errors.New("decode alert event: id, version and rule are required")
	}
	if !e.Level.Valid() || !e.Scope.Valid() {
		return e, errors.New("decode alert event: level and scope are required")
	}
	switch e.Kind {
	case Firing, LevelChanged, Resolved:
	default:
		return e, fmt.Errorf("decode alert event: unknown event %q", e.Kind)
	}
	return e, nil
}

// FillDefaultLevelFacts gives an event that carries no level facts (one
// recorded before events carried them) those of the shipped default plan,
// DefaultLevelFacts, and reports whether it did, so that the caller can log
// it.
func (e *Event) FillDefaultLevelFacts() bool {
	filled := false
	if e.LevelFacts.IsZero() {
		e.LevelFacts, filled = DefaultLevelFacts(e.Level), true
	}
	if e.PreviousLevel != 0 && e.PreviousLevelFacts.IsZero() {
		e.PreviousLevelFacts, filled = DefaultLevelFacts(e.PreviousLevel), true
	}
	return filled
}
