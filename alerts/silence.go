package alerts

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// Silence mutes matching alerts for a time window. Muted alerts are still
// recorded (in the notification log, as silenced); nobody is emailed.
type Silence struct {
	ID      string    `json:"id"`
	Region  string    `json:"region,omitempty"`  // a region code: matches it and every region inside it
	Rule    string    `json:"rule,omitempty"`    // a rule id
	FirmID  string    `json:"firm_id,omitempty"` // one firm's alerts
	Starts  time.Time `json:"starts_at"`
	Ends    time.Time `json:"ends_at"`
	Author  string    `json:"author"`
	Reason  string    `json:"reason"`
	Created time.Time `json:"created_at"`
	Expired bool      `json:"expired,omitempty"` // ended early by hand
}

// Validate checks a new silence.
func (s Silence) Validate() error {
	switch {
	case s.Region == "" && s.Rule == "" && s.FirmID == "":
		return errors.New("a silence needs a region, a rule or a firm: it would mute everything")
	case s.Author == "" || s.Reason == "":
		return errors.New("a silence needs an author and a reason")
	case !s.Ends.After(s.Starts):
		return errors.New("a silence must end after it starts")
	case s.Region != "" && (len(s.Region) != 6 || strings.Trim(s.Region, "0123456789") != ""):
		return fmt.Errorf("region %q is not a 6-digit code", s.Region)
	case s.FirmID != "" && report.CheckFirmID(s.FirmID) != nil:
		return fmt.Errorf("firm id: %w", report.CheckFirmID(s.FirmID))
	case strings.ContainsAny(s.Author+s.Reason, "\r\n\x00"):
		return errors.New("author and reason must be one line")
	}
	return nil
}

// Active reports whether the silence is in force at t.
func (s Silence) Active(t time.Time) bool {
	return !s.Expired && !t.Before(s.Starts) && t.Before(s.Ends)
}

// Matches reports whether the silence mutes e at t.
func (s Silence) Matches(e alertevent.Event, t time.Time) bool {
	if !s.Active(t) {
		return false
	}
	if s.Rule != "" && s.Rule != e.Rule {
		return false
	}
	if s.FirmID != "" && (e.Scope != alertevent.ScopeFirm || e.Key != s.FirmID) {
		return false
	}
	if s.Region != "" && !inRegion(e.Region, s.Region) {
		return false
	}
	return true
}

// inRegion reports whether code lies in region: 620100 contains 620102,
// 620000 contains all of Gansu.
func inRegion(code, region string) bool {
	prefix := strings.TrimRight(region, "0")
	if len(prefix)%2 == 1 {
		prefix += "0" // 620100 → 6201, 621000 → 6210
	}
	return strings.HasPrefix(code, prefix)
}
