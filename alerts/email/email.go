// Package email renders the alert notification emails and delivers them over
// SMTP. It owns the email's content (templates under templates/, the chart,
// the subject line, header hygiene) and one delivery attempt of one message.
// It does not decide who is told what, when, or how often to retry: the
// alerts component builds each Notification (recipients, routing, inhibition,
// digests, escalation, acknowledge links) and acts on Send's retry answer.
//
//	Notification ──Renderer.Render──▶ *mail.Msg ──Sender.Send──▶ SMTP server
//	  (kind, items, now) │ subject template (header-safe)
//	                     │ text/template  body.txt  ─┐ multipart/alternative
//	                     │ html/template  body.html ─┘ + inline PNG chart (cid:)
//
// What the plan says about a level — its name, colour, action and response
// deadline — comes with each event (alertevent.LevelFacts); an event without
// them renders with the level's numeral alone.
//
// Rendering is deterministic for a given Notification (times come from
// Notification.Now and the events, never the clock), except the MIME
// boundaries go-mail draws at random.
package email

import (
	"time"

	"github.com/layoffwatch/layoffwatch/internal/alertevent"
)

// Recipient of a notification.
type Recipient struct {
	Name     string `json:"name"`
	Email    string `json:"email"`
	Language string `json:"language"` // "zh-CN" (default when empty) or "en"
}

// Point is one month of the chart.
type Point struct {
	Period    string  `json:"period"` // YYYY-MM
	Headcount float64 `json:"headcount"`
}

// Item is one alert in a notification.
type Item struct {
	Event alertevent.Event `json:"event"`
	// Folded are firm alerts of the same period told inside this region
	// alert's email instead of in their own (inhibition); the email names
	// each firm, name and id.
	Folded []alertevent.Event `json:"folded,omitempty"`
	// Series is the last 24 months of headcount of the firm or region; empty:
	// no chart.
	Series       []Point `json:"series,omitempty"`
	AckURL       string  `json:"ack_url"`       // signed acknowledge link for this alert and recipient
	DashboardURL string  `json:"dashboard_url"` // Grafana link
}

// Kinds of notification.
const (
	KindAlert        = "alert"         // one level I–II alert, sent at once
	KindDigest       = "digest"        // several level III–IV alerts of one detector pass for one recipient
	KindLevelChanged = "level_changed" // an alert the recipient got changed level
	KindResolved     = "resolved"      // an alert the recipient got is resolved
	KindEscalation   = "escalation"    // nobody acknowledged in time: re-sent, and to the next tier up
	// KindSummary lists warnings about months past the alert horizon
	// (alertevent.Event.Old), grouped by level, rule and region: history,
	// not an emergency — no acknowledge link, no response deadline.
	KindSummary = "summary"
)

// Languages of the templates.
const (
	LangZh = "zh-CN" // the default
	LangEn = "en"
)

// kinds and languages, for the start-up check and the loader.
func kinds() []string {
	return []string{KindAlert, KindDigest, KindLevelChanged, KindResolved, KindEscalation, KindSummary}
}

func languages() []string { return []string{LangZh, LangEn} }

// Notification is one email.
type Notification struct {
	// MessageID is deterministic, chosen by the caller, without <>, e.g.
	// "a1b2…@layoffwatch".
	MessageID string    `json:"message_id"`
	Kind      string    `json:"kind"`
	To        Recipient `json:"to"`
	Items     []Item    `json:"items"`
	Now       time.Time `json:"now"`
}
