package channel

import (
	"encoding/json"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/region"
)

// PayloadVersion is the version of the generic webhook's JSON.
const PayloadVersion = 1

// Payload is the body of a generic webhook delivery: the texts of the
// message (in the recipient's language) and every warning it is about, as
// data. A receiver ignores fields it does not know: fields are added,
// never changed, within a version.
type Payload struct {
	Version   int       `json:"version"`
	MessageID string    `json:"message_id"` // also in X-Layoffwatch-Message-Id: the same on every attempt
	Kind      string    `json:"kind"`       // alert, digest, level_changed, resolved, escalation, summary
	CreatedAt time.Time `json:"created_at"`
	Recipient Recipient `json:"recipient"`
	Title     string    `json:"title"`
	Text      string    `json:"text"`
	Markdown  string    `json:"markdown"`
	Alerts    []Alert   `json:"alerts"`
}

// Alert is one warning of a Payload.
type Alert struct {
	ID         string          `json:"id"`
	Version    uint32          `json:"version"`
	Event      string          `json:"event"` // firing, level_changed, resolved
	Rule       string          `json:"rule"`
	Title      string          `json:"title"`
	Summary    string          `json:"summary"`
	Level      string          `json:"level"` // I … IV
	LevelName  string          `json:"level_name,omitempty"`
	Scope      string          `json:"scope"`   // firm, county, prefecture, province
	Key        string          `json:"key"`     // the firm id (scope firm) or the region code
	Subject    string          `json:"subject"` // the firm's or region's name
	Region     string          `json:"region"`  // the firm's county, or the region: its code
	RegionName string          `json:"region_name,omitempty"`
	Industry   string          `json:"industry,omitempty"`
	Period     string          `json:"period"`
	Old        string          `json:"old,omitempty"` // why a warning about a month past the alert horizon came late
	Values     json.RawMessage `json:"values,omitempty"`
	AckURL     string          `json:"ack_url,omitempty"`
	Dashboard  string          `json:"dashboard_url,omitempty"`
	Folded     []Alert         `json:"folded,omitempty"` // firm warnings told inside this region warning
}

// NewPayload is the webhook body of m.
func NewPayload(m Message) Payload {
	lang := m.Recipient.Language
	regions := region.China()
	p := Payload{Version: PayloadVersion, MessageID: m.ID, Kind: m.Note.Kind, CreatedAt: m.Note.Now, Recipient: m.Recipient,
		Title: m.Chat.Subject, Text: m.Chat.Text, Markdown: m.Chat.Markdown, Alerts: []Alert{}}
	for _, it := range m.Note.Items {
		a := alertOf(it.Event, lang, regions)
		if it.Event.Kind != alertevent.Resolved {
			a.AckURL = it.AckURL
		}
		a.Dashboard = it.DashboardURL
		for _, f := range it.Folded {
			a.Folded = append(a.Folded, alertOf(f, lang, regions))
		}
		p.Alerts = append(p.Alerts, a)
	}
	return p
}

func alertOf(e alertevent.Event, lang string, regions *region.Table) Alert {
	en := lang == "en"
	pick := func(zh, english string) string {
		if en {
			return english
		}
		return zh
	}
	a := Alert{ID: e.ID, Version: e.Version, Event: e.Kind, Rule: e.Rule, Title: pick(e.TitleZh, e.TitleEn),
		Summary: pick(e.SummaryZh, e.SummaryEn), Level: e.Level.String(), LevelName: pick(e.LevelFacts.NameZh, e.LevelFacts.NameEn),
		Scope: e.Scope.String(), Key: e.Key, Subject: e.Subject, Region: e.Region, Industry: e.Industry, Period: e.Period,
		Old: e.Old}
	if len(e.Values) > 0 && json.Valid(e.Values) {
		a.Values = e.Values
	}
	if r, ok := regions.Lookup(e.Region); ok {
		a.RegionName = pick(r.Name, r.NameEn)
	}
	return a
}
