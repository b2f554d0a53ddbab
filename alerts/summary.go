package alerts

import (
	"context"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/layoffwatch/layoffwatch/alerts/channel"
	"github.com/layoffwatch/layoffwatch/alerts/email"
	"github.com/layoffwatch/layoffwatch/internal/alertevent"
)

// Old months are not emergencies. An event about a month past the
// detector's alert horizon (alertevent.Event.Old), or one this component
// handles only after its month's UrgentUntil, is routed as any other but
// not sent on its own:
//
//	old event ──route──▶ silence? ──▶ log "queued" (kind summary) ──▶ commit offsets
//	topic quiet (a detector pass read) ──▶ one summary email per recipient,
//	        grouped by level, rule and region ──▶ log sent ──▶ queue emptied
//
// A summary has no acknowledge link and no response deadline, and an old
// alert is never escalated. The "queued" rows make the queue survive a
// restart (restoreQueue): each (alert, version, recipient) is told in one
// summary, exactly once per channel, like every other message. Summaries
// go through every channel of the recipient except SMS (channels.go); a
// recipient reached only by SMS gets none, and its old warnings are
// recorded and shown, not sent.

// queuedOld is an old warning waiting for a recipient's summary.
type queuedOld struct {
	event   alertevent.Event // what the summary tells (after a restart: the alert's latest state)
	version uint32           // the version queued, whose item key the summary settles
	at      time.Time        // when it was queued
}

// enqueue queues old event e for each target's summary and returns the log
// rows that make the queue durable.
func (n *notifier) enqueue(e alertevent.Event, targets []routed, now time.Time) []logRow {
	var rows []logRow
	for _, t := range targets {
		key := itemKey(e.ID, e.Version, t.r.Email, email.KindSummary, 0, channel.Email)
		if n.queued[key] || n.settled(e, t.r, email.KindSummary, 0) {
			continue
		}
		n.queued[key] = true
		to := strings.ToLower(t.r.Email)
		n.queue[to] = append(n.queue[to], queuedOld{event: e, version: e.Version, at: now})
		rows = append(rows, n.row(e, t.r.Email, email.KindSummary, 0, StatusQueued, "", "", channel.Email, now))
	}
	return rows
}

// flushSummaries sends every recipient whose oldest queued warning has
// waited summary_wait (default: none) one summary of everything queued
// for them. The loop calls it once a detector pass is read.
func (n *notifier) flushSummaries(ctx context.Context) error {
	now := n.now()
	recipients := make([]string, 0, len(n.queue))
	for to := range n.queue {
		recipients = append(recipients, to)
	}
	sort.Strings(recipients)
	for _, to := range recipients {
		q := n.queue[to]
		oldest := now
		for _, o := range q {
			if o.at.Before(oldest) {
				oldest = o.at
			}
		}
		if len(q) > 0 && now.Sub(oldest) < n.cfg.SummaryWait {
			continue
		}
		r := n.recipient(to)
		if r == nil {
			// queued for someone no longer in the config: left queued in the log
			n.log.Warn("old warnings queued for a recipient no longer configured; not sent", "to", to, "warnings", len(q))
		} else if len(q) > 0 {
			done, err := n.deliverSummary(ctx, r, q, now)
			if err != nil {
				return err
			}
			if !done {
				continue
			}
		}
		for _, o := range q {
			delete(n.queued, itemKey(o.event.ID, o.version, to, email.KindSummary, 0, channel.Email))
		}
		delete(n.queue, to)
	}
	return nil
}

// deliverSummary sends one summary of q to r through each of r's channels
// that carries summaries, and settles every queued item of it, whether
// sent or refused for good (done); a summary that does not render stays
// queued.
func (n *notifier) deliverSummary(ctx context.Context, r *Recipient, q []queuedOld, now time.Time) (done bool, err error) {
	sentAny := false
	for _, ch := range r.reach() {
		var part []queuedOld
		for _, o := range q {
			if n.carries(ch, r, o.event, email.KindSummary) && !n.done[itemKey(o.event.ID, o.version, r.Email, email.KindSummary, 0, ch)] {
				part = append(part, o)
			}
		}
		if len(part) == 0 {
			continue
		}
		ok, sent, err := n.summaryOn(ctx, r, part, ch, now)
		if err != nil || !ok {
			return false, err
		}
		sentAny = sentAny || sent
	}
	if !sentAny {
		return true, nil
	}
	to := strings.ToLower(r.Email)
	for _, o := range q {
		if st := n.state[o.event.ID]; st != nil {
			if _, ok := st.sentTo[to]; !ok {
				st.sentTo[to] = 0
			}
		}
	}
	return true, nil
}

// summaryOn sends the summary of q through channel ch: ok is false when it
// does not render (left queued), sent false when it was refused for good.
func (n *notifier) summaryOn(ctx context.Context, r *Recipient, q []queuedOld, ch string, now time.Time) (ok, sent bool, err error) {
	keys := make([]string, 0, len(q))
	latest := map[string]alertevent.Event{} // an alert queued twice is told once, at its latest
	var order []string
	for _, o := range q {
		keys = append(keys, itemKey(o.event.ID, o.version, r.Email, email.KindSummary, 0, ch))
		e, seen := latest[o.event.ID]
		if !seen {
			order = append(order, o.event.ID)
		}
		if !seen || o.event.Version >= e.Version {
			latest[o.event.ID] = o.event
		}
	}
	id := chatMessageID(keys, ch)
	note := email.Notification{MessageID: id, Kind: email.KindSummary, Now: now,
		To: email.Recipient{Name: r.Name, Email: r.Email, Language: r.Language}}
	for _, aid := range order {
		e := latest[aid]
		note.Items = append(note.Items, email.Item{Event: e, DashboardURL: n.dashboard(e)})
	}
	var send func(context.Context) (bool, error)
	if ch == channel.Email {
		msg, err := n.render.Render(note, n.cfg.SMTP.From)
		if err == nil {
			send = func(ctx context.Context) (bool, error) { return n.send.Send(ctx, msg) }
		}
	} else {
		send, err = n.sendChat(ch, r, note)
	}
	if send == nil || err != nil {
		// a template that renders the start-up samples but not these
		// warnings: left queued, retried at the next pass or restart
		n.log.Error("render the summary of old warnings", "channel", ch, "to", r.Email, "err", err)
		return false, false, nil
	}
	rows := func(status, detail string) []logRow {
		at := n.now()
		out := make([]logRow, 0, len(q))
		for _, o := range q {
			e := o.event
			e.Version = o.version
			out = append(out, n.row(e, r.Email, email.KindSummary, 0, status, detail, id, ch, at))
		}
		return out
	}
	sent, err = n.sendLogged(ctx, r.Email, ch, id, send, keys, rows)
	if err != nil || !sent {
		return err == nil, false, err
	}
	n.countSent(ch, email.KindSummary)
	n.log.Info("summary of old warnings sent", "channel", ch, "to", r.Email, "warnings", len(order), "message_id", id)
	return true, true, nil
}

// restoreQueue rebuilds the queue from the log's queued rows that no
// summary settled, with each alert's latest recorded state.
func (n *notifier) restoreQueue(queued []logRow, alerts map[string]alertevent.Event) {
	missing := 0
	for _, row := range queued {
		key := itemKey(row.AlertID, row.Version, row.Recipient, email.KindSummary, 0, channel.Email)
		if n.queued[key] {
			continue
		}
		e, ok := alerts[row.AlertID]
		if !ok {
			missing++ // the detector has not recorded it yet: found at a later restart
			continue
		}
		qe := e
		qe.Version = row.Version
		if r := n.recipient(row.Recipient); (r != nil && n.settled(qe, r, email.KindSummary, 0)) || (r == nil && n.done[key]) {
			continue
		}
		n.queued[key] = true
		to := strings.ToLower(row.Recipient)
		n.queue[to] = append(n.queue[to], queuedOld{event: e, version: row.Version, at: row.At})
	}
	for to := range n.queue {
		slices.SortStableFunc(n.queue[to], func(a, b queuedOld) int { return a.at.Compare(b.at) })
	}
	if len(n.queued) > 0 || missing > 0 {
		n.log.Info("old warnings waiting for their summary", "queued", len(n.queued), "not_recorded_yet", missing)
	}
}
