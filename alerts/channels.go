package alerts

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/layoffwatch/layoffwatch/alerts/channel"
	"github.com/layoffwatch/layoffwatch/alerts/email"
	"github.com/layoffwatch/layoffwatch/internal/alertevent"
)

// Channels beside email. A recipient is reached through each channel it
// lists; every (alert, version, recipient, kind, tier) is delivered at most
// once per channel, with the same notification log, statuses, message ids,
// routing, grouping, folding and escalation as email:
//
//	job (one recipient, one kind) ──▶ for each channel of the recipient:
//	        items it carries (min_level) and has not settled ──▶ log pending ──▶ send ──▶ log sent/failed
//
// A channel's message id is its own (its item keys name the channel), so a
// receiver can deduplicate a delivery retried after a lost answer.
// Summaries of old warnings go through every channel of the recipient but
// SMS (history is not a page); the texts come from the same view as the
// email's (alerts/email Chat).

// phoneRe is a phone number an SMS gateway can take: digits, an optional
// leading +, spaces or dashes between.
var phoneRe = regexp.MustCompile(`^\+?[0-9][0-9 -]{5,18}[0-9]$`)

// validateChannels builds the channels and checks the recipients' use of
// them: every name known, an SMS recipient with a phone, a group robot
// listed by one recipient only (or the group would read each message once
// per recipient).
func (c *Config) validateChannels() error {
	c.channels = map[string]*channel.Sender{}
	for i, cc := range c.Channels {
		s, err := channel.New(cc)
		if err != nil {
			return fmt.Errorf("channels[%d]: %w", i, err)
		}
		if c.channels[cc.Name] != nil {
			return fmt.Errorf("channels[%d]: %s is defined twice", i, cc.Name)
		}
		c.channels[cc.Name] = s
	}
	groupOwner := map[string]string{}
	for i := range c.Recipients {
		r := &c.Recipients[i]
		if len(r.Channels) == 0 {
			r.Channels = []string{channel.Email}
		}
		seen := map[string]bool{}
		for _, name := range r.Channels {
			if seen[name] {
				return fmt.Errorf("recipients[%d]: channel %s is listed twice", i, name)
			}
			seen[name] = true
			if name == channel.Email {
				continue
			}
			s := c.channels[name]
			if s == nil {
				return fmt.Errorf("recipients[%d]: channel %q is not defined under channels (nor is it email)", i, name)
			}
			if s.NeedsPhone() && !phoneRe.MatchString(r.Phone) {
				return fmt.Errorf("recipients[%d]: channel %s sends SMS: phone %q is not a phone number", i, name, r.Phone)
			}
			if s.Group() {
				if other, ok := groupOwner[name]; ok {
					return fmt.Errorf("recipients[%d]: channel %s posts into one group chat and is already %s's: make the group one recipient (routes can add it to more alerts)",
						i, name, other)
				}
				groupOwner[name] = r.Email
			}
		}
		if r.Phone != "" && !phoneRe.MatchString(r.Phone) {
			return fmt.Errorf("recipients[%d]: phone %q is not a phone number", i, r.Phone)
		}
		// email first, then the configuration's order: the log and the
		// deliveries follow it
		slices.SortStableFunc(r.Channels, func(a, b string) int {
			return strings.Compare(c.channelOrder(a), c.channelOrder(b))
		})
	}
	return c.validateRouteChannels()
}

// validateRouteChannels checks the channels routes add (each defined, not a
// group robot, SMS only to recipients with a phone) and gives each
// recipient the union of those of the routes naming it.
func (c *Config) validateRouteChannels() error {
	for i := range c.Routes {
		rt := &c.Routes[i]
		seen := map[string]bool{}
		for _, name := range rt.Channels {
			if seen[name] {
				return fmt.Errorf("routes[%d]: channel %s is listed twice", i, name)
			}
			seen[name] = true
			if name == channel.Email {
				return fmt.Errorf("routes[%d]: channels: email is the recipient's own choice (list it in the recipient's channels); a route adds other channels", i)
			}
			s := c.channels[name]
			switch {
			case s == nil:
				return fmt.Errorf("routes[%d]: channel %q is not defined under channels (nor is it email)", i, name)
			case s.Group():
				return fmt.Errorf("routes[%d]: channel %s posts into one group chat: make the group a recipient and name it in the route's recipients", i, name)
			}
			for _, email := range rt.Recipients {
				r := c.recipient(email)
				if s.NeedsPhone() && !phoneRe.MatchString(r.Phone) {
					return fmt.Errorf("routes[%d]: channel %s sends SMS: recipient %s has no phone number", i, name, email)
				}
				if !slices.Contains(r.Channels, name) && !slices.Contains(r.routeChannels, name) {
					r.routeChannels = append(r.routeChannels, name)
				}
			}
		}
	}
	for i := range c.Recipients {
		r := &c.Recipients[i]
		slices.SortStableFunc(r.routeChannels, func(a, b string) int {
			return strings.Compare(c.channelOrder(a), c.channelOrder(b))
		})
	}
	return nil
}

// recipient is the recipient with this email (routes name them by email).
func (c *Config) recipient(email string) *Recipient {
	for i := range c.Recipients {
		if strings.EqualFold(c.Recipients[i].Email, email) {
			return &c.Recipients[i]
		}
	}
	return nil
}

// channelOrder sorts email first, then channels as configured.
func (c *Config) channelOrder(name string) string {
	if name == channel.Email {
		return "0"
	}
	for i, cc := range c.Channels {
		if cc.Name == name {
			return fmt.Sprintf("1%04d", i)
		}
	}
	return "2" + name
}

// chatSender is what the notifier needs of a channel (*channel.Sender is
// one).
type chatSender interface {
	Send(ctx context.Context, m channel.Message) (retry bool, err error)
	Carries(l alertevent.Level, kind string) bool
	Type() string
}

// carries reports whether channel ch takes event e, as an item of kind, to
// recipient r: email takes everything the routing gave the recipient; a
// channel of the recipient's own what its min_level lets through; a channel
// a route adds only the alerts of a route that adds it for r.
func (n *notifier) carries(ch string, r *Recipient, e alertevent.Event, kind string) bool {
	if ch == channel.Email {
		return true
	}
	s := n.chans[ch]
	if s == nil || !s.Carries(e.Level, kind) {
		return false
	}
	return slices.Contains(r.Channels, ch) || n.routeAdds(ch, r, e)
}

// routeAdds reports whether a route matching e names r and adds channel ch.
func (n *notifier) routeAdds(ch string, r *Recipient, e alertevent.Event) bool {
	for _, rt := range n.cfg.Routes {
		if slices.Contains(rt.Channels, ch) && rt.matches(e) && slices.ContainsFunc(rt.Recipients, func(x string) bool { return strings.EqualFold(x, r.Email) }) {
			return true
		}
	}
	return false
}

// settled reports whether e is settled — delivered, refused for good,
// silenced or folded — on every channel that would carry it to r. A
// recipient none of whose channels carries it has nothing to settle.
func (n *notifier) settled(e alertevent.Event, r *Recipient, kind string, tier int) bool {
	for _, ch := range r.reach() {
		if n.carries(ch, r, e, kind) && !n.done[itemKey(e.ID, e.Version, r.Email, kind, tier, ch)] {
			return false
		}
	}
	return true
}

// forChannel is the part of job j that channel ch still has to deliver:
// the items it carries and has not settled, with their folded firm alerts
// not settled on it; nil when nothing is left.
func (n *notifier) forChannel(j *job, ch string) *job {
	jc := &job{kind: j.kind, to: j.to, tier: j.tier, fold: map[string][]folded{}}
	for _, st := range j.items {
		if !n.carries(ch, j.to, st.event, j.kind) || n.done[itemKey(st.event.ID, st.event.Version, j.to.Email, j.kind, j.tier, ch)] {
			continue
		}
		jc.items = append(jc.items, st)
		for _, f := range j.fold[st.event.ID] {
			if !n.done[itemKey(f.event.ID, f.event.Version, j.to.Email, f.kind, j.tier, ch)] {
				jc.fold[st.event.ID] = append(jc.fold[st.event.ID], f)
			}
		}
	}
	if len(jc.items) == 0 {
		return nil
	}
	return jc
}

// sendChat renders note for channel ch and returns the attempt function
// sendLogged retries.
func (n *notifier) sendChat(ch string, r *Recipient, note email.Notification) (func(context.Context) (bool, error), error) {
	s := n.chans[ch]
	if s == nil {
		return nil, fmt.Errorf("channel %s is not configured", ch)
	}
	chat, err := n.render.Chat(note)
	if err != nil {
		return nil, fmt.Errorf("render %s for %s on %s: %w", note.Kind, r.Email, ch, err)
	}
	m := channel.Message{ID: note.MessageID, Note: note, Chat: chat,
		Recipient: channel.Recipient{Name: r.Name, Email: r.Email, Phone: r.Phone, Language: r.Language}}
	return func(ctx context.Context) (bool, error) { return s.Send(ctx, m) }, nil
}

// chatMessageID is a channel message's id: the item keys' hash, at the
// channel's own domain.
func chatMessageID(keys []string, ch string) string {
	id := messageID(keys)
	if ch == channel.Email {
		return id
	}
	return strings.TrimSuffix(id, "@layoffwatch") + "@" + ch + ".layoffwatch"
}

// countSent, countFailed and countRetried keep email's metrics as they
// were and count the other channels by name.
func (n *notifier) countSent(ch, kind string) {
	if ch == channel.Email {
		n.m.sent.WithLabelValues(kind).Inc()
		return
	}
	n.m.chanSent.WithLabelValues(ch, kind).Inc()
}

func (n *notifier) countFailed(ch string) {
	if ch == channel.Email {
		n.m.failed.Inc()
		return
	}
	n.m.chanFailed.WithLabelValues(ch).Inc()
}

func (n *notifier) countRetried(ch string) {
	if ch == channel.Email {
		n.m.retried.Inc()
		return
	}
	n.m.chanRetried.WithLabelValues(ch).Inc()
}

// reach is the channels r may be reached through: its own (email when none
// is listed, in a Config that did not go through Validate), then those
// routes add for some alerts (carries says which).
func (r *Recipient) reach() []string {
	own := r.Channels
	if len(own) == 0 {
		own = []string{channel.Email}
	}
	if len(r.routeChannels) == 0 {
		return own
	}
	return append(slices.Clip(own), r.routeChannels...)
}
