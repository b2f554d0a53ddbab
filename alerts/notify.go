package alerts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wneessen/go-mail"

	"github.com/layoffwatch/layoffwatch/alerts/channel"
	"github.com/layoffwatch/layoffwatch/alerts/email"
	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/region"
)

// renderer and sender are what the notifier needs of alerts/email.
type renderer interface {
	Render(n email.Notification, from string) (*mail.Msg, error)
	Chat(n email.Notification) (email.Chat, error)
}

type sender interface {
	Send(ctx context.Context, m *mail.Msg) (retry bool, err error)
}

// logStore is what the notifier needs of ClickHouse.
type logStore interface {
	log(ctx context.Context, rows []logRow) error
	series(ctx context.Context, e alertevent.Event) ([]seriesPoint, error)
}

// alertState is what the notifier knows of one alert.
type alertState struct {
	event     alertevent.Event
	sentTo    map[string]int // recipient email → highest tier notified (sent, or folded into another alert's email)
	firstSent time.Time
	tier      int // escalation steps done
	ackedBy   string
	folded    []string // firm alerts told inside this region alert's emails, named again when it escalates or changes level
}

func (a *alertState) open() bool { return a.event.Kind != alertevent.Resolved }

// notifier turns alert events into emails.
type notifier struct {
	cfg      *Config
	router   *Router
	signer   *Signer
	render   renderer
	send     sender
	chans    map[string]chatSender // channels beside email, by name (channels.go)
	store    logStore
	now      func() time.Time
	log      *slog.Logger
	m        *alertMetrics
	regions  *region.Table
	backoff  [2]time.Duration
	state    map[string]*alertState
	done     map[string]bool // settled item keys, see itemKey
	silences []Silence
	// queue holds old warnings waiting for their summary, by recipient
	// (lower-case email); queued is their item keys (summary.go).
	queue  map[string][]queuedOld
	queued map[string]bool
	// onHandled is told how many events each pass had, once it is done.
	onHandled func(events int)
}

// itemKey names one (alert, version, recipient, kind, tier) on one
// channel: at most one message is ever sent for it. Email's keys have no
// channel part (they are the keys of before channels).
func itemKey(alertID string, version uint32, recipient, kind string, tier int, ch string) string {
	k := alertID + "|" + strconv.FormatUint(uint64(version), 10) + "|" + strings.ToLower(recipient) + "|" + kind + "|" + strconv.Itoa(tier)
	if ch != "" && ch != channel.Email {
		k += "|" + ch
	}
	return k
}

// messageID is the deterministic Message-ID of an email covering keys.
func messageID(keys []string) string {
	sorted := append([]string(nil), keys...)
	sort.Strings(sorted)
	sum := sha256.Sum256([]byte(strings.Join(sorted, "\n")))
	return hex.EncodeToString(sum[:16]) + "@layoffwatch"
}

// maxCharts is how many alerts of one email get a chart: a digest of many
// alerts shows the most severe first, and charts for the first few.
const maxCharts = 3

// job is one email to one recipient about one or more alerts.
type job struct {
	kind  string
	to    *Recipient
	tier  int
	items []*alertState
	fold  map[string][]folded // region alert id → firm alerts of this pass told inside it
}

// folded is a firm alert told inside a region alert's email instead of in
// one of its own, which would have been of kind.
type folded struct {
	event alertevent.Event
	kind  string
}

// process handles one batch of events (a detector pass) and returns when
// every email is sent, refused for good, or ctx ends.
func (n *notifier) process(ctx context.Context, events []alertevent.Event) error {
	now := n.now()
	// region alerts first, so firm alerts of the same pass can fold into them
	sort.SliceStable(events, func(i, j int) bool {
		return events[i].Scope != alertevent.ScopeFirm && events[j].Scope == alertevent.ScopeFirm
	})
	immediate := map[string]*job{} // key: kind|recipient|alert for I–II, kind|recipient for digests
	var order []string
	var records []logRow
	addJob := func(key, kind string, r *Recipient, tier int, st *alertState) *job {
		j, ok := immediate[key]
		if !ok {
			j = &job{kind: kind, to: r, tier: tier, fold: map[string][]folded{}}
			immediate[key] = j
			order = append(order, key)
		}
		for _, it := range j.items {
			if it == st {
				return j
			}
		}
		j.items = append(j.items, st)
		return j
	}
	for _, e := range events {
		st := n.state[e.ID]
		if st == nil {
			st = &alertState{sentTo: map[string]int{}}
			n.state[e.ID] = st
		}
		if e.Version <= st.event.Version && st.event.ID != "" {
			continue // an old event read again
		}
		if e.Old == "" && !e.Urgent(now) {
			e.Old = alertevent.OldLateDelivery // its month passed the horizon while nobody read it
		}
		st.event = e
		n.m.received.WithLabelValues(e.Kind, e.Level.String()).Inc()
		var targets []routed
		kind := email.KindAlert
		switch e.Kind {
		case alertevent.Firing:
			targets = n.router.Route(e, 0)
			if !e.Level.AtLeast(alertevent.LevelII) {
				kind = email.KindDigest
			}
		case alertevent.LevelChanged:
			kind = email.KindLevelChanged
			targets = n.router.Route(e, st.tier)
			targets = n.withPrevious(targets, st)
		case alertevent.Resolved:
			if !n.cfg.NotifyResolved() {
				continue
			}
			kind = email.KindResolved
			targets = n.withPrevious(nil, st)
		}
		if e.Old != "" {
			// an old month: told in the recipients' next summary, never alone
			kind = email.KindSummary
			n.m.old.WithLabelValues(e.Old).Inc()
		}
		if s, ok := n.silenced(e, now); ok {
			for _, t := range targets {
				for _, ch := range t.r.reach() {
					if n.carries(ch, t.r, e, kind) {
						records = append(records, n.row(e, t.r.Email, kind, 0, StatusSilenced, "silence "+s.ID, "", ch, now))
					}
				}
			}
			n.m.silenced.Inc()
			continue
		}
		if e.Old != "" {
			records = append(records, n.enqueue(e, targets, now)...)
			continue
		}
		if e.Kind == alertevent.Firing && e.Scope == alertevent.ScopeFirm {
			// a firm alert is told inside a county or prefecture alert of the
			// same period that this recipient gets in this pass, which names
			// the firm; to anyone else it goes alone. It is settled (logged
			// folded) with the email that tells it.
			var alone []routed
			for _, t := range targets {
				host := n.hostFor(e, t.r.Email, immediate, order)
				if host == nil || !n.sameChannels(t.r, e, kind, host.st.event, host.j.kind) {
					alone = append(alone, t)
					continue
				}
				if n.settled(e, t.r, kind, 0) {
					continue
				}
				host.j.fold[host.st.event.ID] = append(host.j.fold[host.st.event.ID], folded{event: e, kind: kind})
			}
			targets = alone
		}
		for _, t := range targets {
			if n.settled(e, t.r, kind, 0) {
				continue
			}
			key := kind + "|" + t.r.Email
			if kind != email.KindDigest && kind != email.KindResolved {
				key += "|" + e.ID
			}
			addJob(key, kind, t.r, 0, st)
		}
	}
	if err := n.store.log(ctx, records); err != nil {
		return err
	}
	for _, k := range order {
		j := immediate[k]
		sort.SliceStable(j.items, func(a, b int) bool {
			return j.items[a].event.Level.Rank() < j.items[b].event.Level.Rank()
		})
		if err := n.deliver(ctx, j, now); err != nil {
			return err
		}
	}
	n.observe()
	return nil
}

// withPrevious adds everyone who was told about the alert before.
func (n *notifier) withPrevious(targets []routed, st *alertState) []routed {
	seen := map[string]bool{}
	for _, t := range targets {
		seen[t.r.Email] = true
	}
	emails := make([]string, 0, len(st.sentTo))
	for e := range st.sentTo {
		emails = append(emails, e)
	}
	sort.Strings(emails)
	for _, e := range emails {
		if seen[e] {
			continue
		}
		if r := n.recipient(e); r != nil {
			targets = append(targets, routed{r, st.sentTo[e]})
		}
	}
	return targets
}

func (n *notifier) recipient(email string) *Recipient { return n.cfg.recipient(email) }

func (n *notifier) silenced(e alertevent.Event, at time.Time) (Silence, bool) {
	for _, s := range n.silences {
		if s.Matches(e, at) {
			return s, true
		}
	}
	return Silence{}, false
}

// sameChannels reports whether every channel of r carries e (as kind) just
// when it carries the host alert (as hostKind): a firm alert is told inside
// a region alert only then, or a channel a route adds for the firm alert
// (SMS for a major cut) would never carry it, and one that carries the host
// would carry an alert it should not.
func (n *notifier) sameChannels(r *Recipient, e alertevent.Event, kind string, host alertevent.Event, hostKind string) bool {
	for _, ch := range r.reach() {
		if n.carries(ch, r, e, kind) != n.carries(ch, r, host, hostKind) {
			return false
		}
	}
	return true
}

// foldHost is a region alert's email of this pass that a firm alert can be
// told in.
type foldHost struct {
	j  *job
	st *alertState
}

// hostFor finds, among the emails of this pass to recipient, one about a
// firing county or prefecture alert of the same period covering the firm
// alert e.
func (n *notifier) hostFor(e alertevent.Event, recipient string, jobs map[string]*job, order []string) *foldHost {
	for _, k := range order {
		j := jobs[k]
		if !strings.EqualFold(j.to.Email, recipient) {
			continue
		}
		for _, st := range j.items {
			r := st.event
			if r.Kind == alertevent.Resolved || r.Scope == alertevent.ScopeFirm || r.Period != e.Period || (r.Industry != "" && r.Industry != e.Industry) {
				continue
			}
			if (r.Scope == alertevent.ScopeCounty && r.Region == e.Region) || (r.Scope == alertevent.ScopePrefecture && r.Region == region.PrefectureOf(e.Region)) {
				return &foldHost{j: j, st: st}
			}
		}
	}
	return nil
}

func (n *notifier) row(e alertevent.Event, recipient, kind string, tier int, status, detail, msgID, ch string, at time.Time) logRow {
	return logRow{MessageID: msgID, AlertID: e.ID, Version: e.Version, Recipient: recipient, Kind: kind, Tier: uint8(tier),
		Status: status, Detail: detail, Level: e.Level.String(), Rule: e.Rule, Region: e.Region, FiredAt: e.At, At: at, Channel: ch}
}

// deliver sends one job through each channel of its recipient (email
// first): for each, the items the channel carries and has not settled are
// logged pending, sent (retrying with backoff while the receiver is away)
// and logged sent — with, in the same insert, the firm alerts folded into
// them, so a firm alert is settled only by the message that names it.
// Every item of the job is settled on every channel once this returns nil.
func (n *notifier) deliver(ctx context.Context, j *job, now time.Time) error {
	var sent []*job
	for _, ch := range j.to.reach() {
		jc := n.forChannel(j, ch)
		if jc == nil {
			continue
		}
		ok, err := n.deliverOn(ctx, jc, ch, now)
		if err != nil {
			return err
		}
		if ok {
			sent = append(sent, jc)
		}
	}
	sentAt := n.now()
	to := strings.ToLower(j.to.Email)
	observed := map[string]bool{} // latency: by the first channel that told each alert
	for _, jc := range sent {
		for _, st := range jc.items {
			st.sentTo[to] = max(st.sentTo[to], j.tier)
			if st.firstSent.IsZero() {
				st.firstSent = sentAt
			}
			if !observed[st.event.ID] {
				observed[st.event.ID] = true
				n.m.latency.Observe(sentAt.Sub(st.event.At).Seconds())
			}
			for _, f := range jc.fold[st.event.ID] {
				if fs := n.state[f.event.ID]; fs != nil {
					fs.sentTo[to] = max(fs.sentTo[to], j.tier)
				}
				if !slices.Contains(st.folded, f.event.ID) {
					st.folded = append(st.folded, f.event.ID)
				}
				if !observed[f.event.ID] {
					observed[f.event.ID] = true
					n.m.latency.Observe(sentAt.Sub(f.event.At).Seconds())
				}
			}
		}
	}
	return nil
}

// deliverOn renders and sends job j (its part for the channel) through
// channel ch; sent is false when it was refused for good.
func (n *notifier) deliverOn(ctx context.Context, j *job, ch string, now time.Time) (sent bool, err error) {
	keys := make([]string, 0, len(j.items))
	for _, st := range j.items {
		keys = append(keys, itemKey(st.event.ID, st.event.Version, j.to.Email, j.kind, j.tier, ch))
	}
	var folds []folded // in item order
	for _, st := range j.items {
		for _, f := range j.fold[st.event.ID] {
			folds = append(folds, f)
			keys = append(keys, itemKey(f.event.ID, f.event.Version, j.to.Email, f.kind, j.tier, ch))
		}
	}
	id := chatMessageID(keys, ch)
	note := email.Notification{MessageID: id, Kind: j.kind, Now: now,
		To: email.Recipient{Name: j.to.Name, Email: j.to.Email, Language: j.to.Language}}
	for i, st := range j.items {
		item := email.Item{Event: st.event, Folded: n.foldedInto(j, st),
			AckURL: n.signer.Link(n.cfg.Links.AckBaseURL, st.event.ID, j.to.Email), DashboardURL: n.dashboard(st.event)}
		if i >= maxCharts || ch != channel.Email {
			note.Items = append(note.Items, item)
			continue
		}
		if pts, err := n.store.series(ctx, st.event); err == nil {
			for _, p := range pts {
				item.Series = append(item.Series, email.Point{Period: p.period.Format("2006-01"), Headcount: p.headcount})
			}
		} else {
			n.log.Warn("no chart for the alert", "alert", st.event.ID, "err", err)
		}
		note.Items = append(note.Items, item)
	}
	var send func(context.Context) (bool, error)
	if ch == channel.Email {
		msg, err := n.render.Render(note, n.cfg.SMTP.From)
		if err != nil {
			return false, fmt.Errorf("render %s for %s: %w", j.kind, j.to.Email, err)
		}
		send = func(ctx context.Context) (bool, error) { return n.send.Send(ctx, msg) }
	} else if send, err = n.sendChat(ch, j.to, note); err != nil {
		return false, err
	}
	rows := func(status, detail string) []logRow {
		at := n.now()
		out := make([]logRow, 0, len(j.items)+len(folds))
		for _, st := range j.items {
			out = append(out, n.row(st.event, j.to.Email, j.kind, j.tier, status, detail, id, ch, at))
		}
		if status == StatusPending {
			return out
		}
		for _, st := range j.items {
			for _, f := range j.fold[st.event.ID] {
				fs, fd := StatusFolded, foldedDetail+st.event.ID
				if status != StatusSent {
					fs, fd = status, detail
				}
				out = append(out, n.row(f.event, j.to.Email, f.kind, j.tier, fs, fd, id, ch, at))
			}
		}
		return out
	}
	if sent, err := n.sendLogged(ctx, j.to.Email, ch, id, send, keys, rows); err != nil || !sent {
		return false, err
	}
	n.countSent(ch, j.kind)
	n.log.Info("notification sent", "channel", ch, "kind", j.kind, "to", j.to.Email, "alerts", len(j.items), "folded", len(folds), "message_id", id)
	return true, nil
}

// sendLogged logs a message pending, sends it (send is one attempt;
// retried with backoff while the receiver is away), logs the outcome and
// settles keys: sent, or refused for good (sent is false, err nil). It
// fails only when the log cannot be written or ctx ends first.
func (n *notifier) sendLogged(ctx context.Context, to, ch, id string, send func(context.Context) (bool, error), keys []string,
	rows func(status, detail string) []logRow) (sent bool, err error) {
	if err := n.store.log(ctx, rows(StatusPending, "")); err != nil {
		return false, err
	}
	for attempt := 1; ; attempt++ {
		retry, err := send(ctx)
		if err == nil {
			break
		}
		if !retry {
			n.countFailed(ch)
			if ch == channel.Email {
				n.log.Error("email refused for good", "to", to, "message_id", id, "err", err)
			} else {
				n.log.Error("channel message refused for good", "channel", ch, "to", to, "message_id", id, "err", err)
			}
			if err := n.store.log(ctx, rows(StatusFailed, err.Error())); err != nil {
				return false, err
			}
			n.settle(keys)
			return false, nil
		}
		n.countRetried(ch)
		wait := min(n.backoff[0]<<min(attempt-1, 10), n.backoff[1])
		if ch == channel.Email {
			n.log.Warn("email not sent, retrying", "to", to, "attempt", attempt, "retry_in", wait, "err", err)
		} else {
			n.log.Warn("channel message not sent, retrying", "channel", ch, "to", to, "attempt", attempt, "retry_in", wait, "err", err)
		}
		select {
		case <-ctx.Done():
			return false, fmt.Errorf("%s message to %s not sent before shutdown: %w", ch, to, ctx.Err())
		case <-time.After(wait):
		}
	}
	if err := n.store.log(ctx, rows(StatusSent, "")); err != nil {
		return false, err
	}
	n.settle(keys)
	return true, nil
}

// foldedDetail starts the log detail of a folded firm alert; the region
// alert's id follows.
const foldedDetail = "folded into "

// foldedInto lists the firm alerts an email names inside region alert st:
// those folded into it in this pass and, when it escalates or changes
// level, the open ones folded into it before, so that an official told of
// a region alert later is told which firms it is about.
func (n *notifier) foldedInto(j *job, st *alertState) []alertevent.Event {
	var out []alertevent.Event
	seen := map[string]bool{}
	for _, f := range j.fold[st.event.ID] {
		out = append(out, f.event)
		seen[f.event.ID] = true
	}
	if j.kind != email.KindEscalation && j.kind != email.KindLevelChanged {
		return out
	}
	for _, id := range st.folded {
		if fs := n.state[id]; fs != nil && fs.open() && !seen[id] {
			out = append(out, fs.event)
			seen[id] = true
		}
	}
	return out
}

func (n *notifier) settle(keys []string) {
	for _, k := range keys {
		n.done[k] = true
	}
}

func (n *notifier) dashboard(e alertevent.Event) string {
	base := strings.TrimRight(n.cfg.Links.GrafanaBaseURL, "/")
	if base == "" {
		return ""
	}
	if e.Scope == alertevent.ScopeFirm {
		return base + "/d/layoffwatch-firm?var-firm=" + e.Key
	}
	return base + "/d/layoffwatch-region?var-region=" + e.Region
}

// escalate re-sends every open, unacknowledged alert whose response deadline
// passed, to the next tier up as well (county → prefecture → province) —
// unless its month is past the alert horizon (alertevent.Event.Urgent): an
// old alert is never escalated, even one that was urgent when it was sent.
func (n *notifier) escalate(ctx context.Context) error {
	now := n.now()
	ids := make([]string, 0, len(n.state))
	for id := range n.state {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		st := n.state[id]
		deadline := st.event.LevelFacts.Response()
		if !st.open() || st.ackedBy != "" || st.firstSent.IsZero() || deadline == 0 || st.tier >= TierProvince || !st.event.Urgent(now) {
			continue
		}
		if now.Before(st.firstSent.Add(time.Duration(st.tier+1) * deadline)) {
			continue
		}
		tier := st.tier + 1
		targets := n.withPrevious(n.router.Route(st.event, tier), st)
		for _, t := range targets {
			if n.settled(st.event, t.r, email.KindEscalation, tier) {
				continue
			}
			j := &job{kind: email.KindEscalation, to: t.r, tier: tier, items: []*alertState{st}, fold: map[string][]folded{}}
			if err := n.deliver(ctx, j, now); err != nil {
				return err
			}
		}
		st.tier = tier
		n.m.escalations.Inc()
		n.log.Info("alert escalated", "alert", id, "tier", tier, "level", st.event.Level.String())
	}
	n.observe()
	return nil
}

func (n *notifier) observe() {
	n.m.open.Reset()
	now := n.now()
	for _, st := range n.state {
		if st.open() && st.ackedBy == "" && st.event.ID != "" && st.event.Urgent(now) {
			n.m.open.WithLabelValues(st.event.Level.String()).Inc()
		}
	}
}
