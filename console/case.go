package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/layoffwatch/layoffwatch/internal/label"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// The case of a warning, as the plans describe handling (预警处置):
//
//	new ──ack──▶ acknowledged ──verify──▶ verified ──respond──▶ responding ──close──▶ closed
//	                                          └───────────close──────────────────────┘   │
//	                                                                        reopen ◀─────┘ (supervisor)
//
// assign and comment change no status. An acknowledgement by email link
// counts as the ack step (the alert component and the console share the
// acks table); any later step on a case nobody acknowledged acknowledges
// it first, so a closed case is always acknowledged and never escalated.

// Statuses of a case.
const (
	StatusNew          = "new"
	StatusAcknowledged = "acknowledged"
	StatusVerified     = "verified"
	StatusResponding   = "responding"
	StatusClosed       = "closed"
)

// Statuses lists the statuses in workflow order.
var Statuses = []string{StatusNew, StatusAcknowledged, StatusVerified, StatusResponding, StatusClosed}

// Verification methods, findings, measures and verdicts.
var (
	Methods  = []string{"phone", "visit", "documents", "other"}
	Findings = []string{"economic_layoff", "closure", "seasonal", "data_error", "other"}
	// Measures are the employment-policy measures of the plans: 稳岗返还,
	// 技能培训, 失业保险待遇, 职业介绍/招聘会, 转岗安置, 其他.
	Measures = []string{"retention_refund", "training", "unemployment_benefits", "job_matching", "redeployment", "other"}
	Verdicts = []string{"true_warning", "false_alarm", "seasonal", "data_error"}
)

// Case is the handling of one warning.
type Case struct {
	AlertID      string        `json:"alert_id"`
	Seq          uint32        `json:"seq"`
	Status       string        `json:"status"`
	Assignee     string        `json:"assignee,omitempty"`
	Ack          *CaseAck      `json:"ack,omitempty"`
	Verification *Verification `json:"verification,omitempty"`
	Measures     []Measure     `json:"measures,omitempty"`
	Verdict      string        `json:"verdict,omitempty"`
	CloseNote    string        `json:"close_note,omitempty"`
	ClosedBy     string        `json:"closed_by,omitempty"`
	ClosedAt     time.Time     `json:"closed_at,omitzero"`
	Comments     int           `json:"comments,omitempty"`
}

// CaseAck is who acknowledged the warning first, and how.
type CaseAck struct {
	By      string    `json:"by"`
	Via     string    `json:"via"` // console, link (email), api, cli
	At      time.Time `json:"at"`
	Comment string    `json:"comment,omitempty"`
}

// Verification is how the firm (or region) was checked and what was found.
type Verification struct {
	Method      string    `json:"method"`
	ContactedAt time.Time `json:"contacted_at"`
	Finding     string    `json:"finding"`
	Note        string    `json:"note,omitempty"`
	By          string    `json:"by"`
	At          time.Time `json:"at"`
}

// Measure is one response.
type Measure struct {
	Kind    string    `json:"kind"`
	Workers int       `json:"workers"`
	Note    string    `json:"note,omitempty"`
	By      string    `json:"by"`
	At      time.Time `json:"at"`
}

// Action is one step on a case, as posted.
type Action struct {
	Kind string // ack, verify, respond, close, reopen, assign, comment

	Comment     string // ack, comment, reopen
	Method      string
	ContactedAt time.Time
	Finding     string
	Measure     string
	Workers     int
	Verdict     string
	Note        string // verify, respond, close
	Assignee    string
}

// Actions lists the action kinds.
var Actions = []string{"ack", "verify", "respond", "close", "reopen", "assign", "comment"}

// MaxText is the longest free text of an action.
const MaxText = 2000

// ErrConflict means the case changed since the page was shown.
var ErrConflict = errors.New("the case changed since the page was loaded")

// actionError is a refusal that the official can fix.
type actionError struct{ key, detail string }

func (e *actionError) Error() string { return e.key + ": " + e.detail }

func refuse(key, format string, args ...any) error {
	return &actionError{key: key, detail: fmt.Sprintf(format, args...)}
}

func checkText(s string) error {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxText || strings.ContainsRune(s, 0) {
		return refuse("err_text", "text must be valid UTF-8 of at most %d characters", MaxText)
	}
	return nil
}

// apply returns the case after a, by actor at now. It does not change c.
func apply(c Case, a Action, actor string, role Role, now time.Time) (Case, error) {
	next := c
	next.Measures = slices.Clone(c.Measures)
	for _, s := range []string{a.Comment, a.Note} {
		if err := checkText(s); err != nil {
			return c, err
		}
	}
	if c.Status == StatusClosed && a.Kind != "reopen" && a.Kind != "comment" {
		return c, refuse("err_closed", "the case is closed")
	}
	ackFirst := func() {
		if next.Ack == nil {
			next.Ack = &CaseAck{By: actor, Via: "console", At: now}
		}
		if next.Status == StatusNew {
			next.Status = StatusAcknowledged
		}
	}
	switch a.Kind {
	case "ack":
		if c.Ack != nil {
			return c, refuse("err_acked", "already acknowledged by %s", c.Ack.By)
		}
		ackFirst()
		next.Ack.Comment = a.Comment
	case "verify":
		if !slices.Contains(Methods, a.Method) || !slices.Contains(Findings, a.Finding) {
			return c, refuse("err_verify", "choose how the firm was contacted and what was found")
		}
		if a.ContactedAt.IsZero() || a.ContactedAt.After(now.Add(5*time.Minute)) {
			return c, refuse("err_contacted", "the contact time is missing or in the future")
		}
		ackFirst()
		next.Verification = &Verification{Method: a.Method, ContactedAt: a.ContactedAt.UTC(), Finding: a.Finding, Note: a.Note, By: actor, At: now}
		if next.Status == StatusAcknowledged {
			next.Status = StatusVerified
		}
	case "respond":
		if c.Verification == nil {
			return c, refuse("err_order", "verify the warning before recording measures")
		}
		if !slices.Contains(Measures, a.Measure) || a.Workers < 0 || a.Workers > report.MaxCount {
			return c, refuse("err_measure", "choose a measure and a number of workers from 0 to %d", report.MaxCount)
		}
		next.Measures = append(next.Measures, Measure{Kind: a.Measure, Workers: a.Workers, Note: a.Note, By: actor, At: now})
		next.Status = StatusResponding
	case "close":
		if c.Verification == nil {
			return c, refuse("err_order", "verify the warning before closing it")
		}
		if !slices.Contains(Verdicts, a.Verdict) {
			return c, refuse("err_verdict", "choose a verdict")
		}
		next.Status, next.Verdict, next.CloseNote, next.ClosedBy, next.ClosedAt = StatusClosed, a.Verdict, a.Note, actor, now
	case "reopen":
		if c.Status != StatusClosed {
			return c, refuse("err_not_closed", "only a closed case can be reopened")
		}
		if !role.CanReopen() {
			return c, refuse("err_forbidden", "only a supervisor reopens a case")
		}
		next.Status, next.Verdict, next.CloseNote, next.ClosedBy, next.ClosedAt = StatusVerified, "", "", "", time.Time{}
		if len(next.Measures) > 0 {
			next.Status = StatusResponding
		}
	case "assign":
		next.Assignee = a.Assignee
	case "comment":
		if strings.TrimSpace(a.Comment) == "" {
			return c, refuse("err_empty", "the comment is empty")
		}
		next.Comments++
	default:
		return c, refuse("err_action", "unknown action %q", a.Kind)
	}
	next.Seq = c.Seq + 1
	return next, nil
}

// withEmailAck folds the earliest acknowledgement of the acks table into
// a case: an official who acknowledged by email link has done the ack step.
func withEmailAck(c Case, acks []Ack) Case {
	if c.Ack != nil || len(acks) == 0 {
		return c
	}
	first := acks[0]
	for _, a := range acks[1:] {
		if a.At.Before(first.At) {
			first = a
		}
	}
	c.Ack = &CaseAck{By: first.Recipient, Via: first.Via, At: first.At, Comment: first.Comment}
	if c.Status == StatusNew {
		c.Status = StatusAcknowledged
	}
	return c
}

func decodeCase(s string) (Case, error) {
	var c Case
	err := json.Unmarshal([]byte(s), &c)
	return c, err
}

// Label turns a closed case into ground truth for `plan eval`: the verdict
// and, for a true warning, the finding say what happened to the firm or
// region in the warning's month. ok is false for an open case.
func Label(a Alert, c Case) (label.Label, bool) {
	if c.Status != StatusClosed {
		return label.Label{}, false
	}
	p, err := report.ParsePeriod(a.Period)
	if err != nil {
		return label.Label{}, false
	}
	l := label.Label{Scope: label.Scope(a.Scope), Key: a.Key, From: p, To: p, Source: label.Official}
	if a.Scope != "firm" {
		l.Key = a.Region
		if a.Industry != "" {
			l.Key += "/" + a.Industry
		}
	}
	switch c.Verdict {
	case "false_alarm":
		l.Kind = label.FalseAlarm
	case "seasonal":
		l.Kind = label.Seasonal
	case "data_error":
		l.Kind = label.DataError
	case "true_warning":
		switch {
		case a.Scope != "firm":
			l.Kind = label.RegionalDownturn
		case c.Verification != nil && c.Verification.Finding == "closure":
			l.Kind = label.Closure
		default:
			l.Kind = label.Layoff
		}
	default:
		return label.Label{}, false
	}
	note := "alert " + a.ID + " closed by " + c.ClosedBy
	if c.CloseNote != "" {
		note += ": " + strings.Join(strings.Fields(c.CloseNote), " ")
	}
	if r := []rune(note); len(r) > label.MaxNoteRunes {
		note = string(r[:label.MaxNoteRunes])
	}
	l.Note = note
	if l.Validate(nil) != nil {
		return label.Label{}, false
	}
	return l, true
}
