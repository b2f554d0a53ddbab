package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/layoffwatch/layoffwatch/internal/region"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// Reporting status and reminders: the firms of a region that have not
// reported for the month, with their contact; reminder emails a few days
// before the deadline and once late, automatic and by hand, each recorded
// in the audit trail (which is also how an automatic reminder is sent only
// once per firm, month and kind).

// Reminder kinds.
const (
	RemindDue  = "due"  // before the deadline
	RemindLate = "late" // after it
	RemindHand = "hand" // sent by an official
)

// currentPeriod is the month firms report for at now: last month until its
// deadline has passed, then this month (as the gateway decides).
func (c *Console) currentPeriod(now time.Time) report.Period {
	p := report.PeriodOf(now.In(report.Shanghai())).Add(-1)
	if now.Before(report.Deadline(p, c.opts.DeadlineDay)) {
		return p
	}
	return p.Add(1)
}

// missing reads the firms of scope enrolled in period without a report.
func (c *Console) missing(ctx context.Context, scope string, period report.Period) ([]Firm, error) {
	all, err := c.st.firms(ctx, qFirmsScope, regionPrefix(scope))
	if err != nil {
		return nil, err
	}
	start, end := period.Start(), period.Add(1).Start()
	all = slices.DeleteFunc(all, func(f Firm) bool {
		return !covers(scope, f.Region) || f.EnrolledFrom != nil && !f.EnrolledFrom.Before(end) || f.EnrolledTo != nil && !f.EnrolledTo.After(start)
	})
	ids := make([]string, len(all))
	for i, f := range all {
		ids[i] = f.ID
	}
	done, err := c.st.reported(ctx, period, ids)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(f Firm) bool { return done[f.ID] }), nil
}

type reminderDetail struct {
	Period string `json:"period"`
	Kind   string `json:"kind"`
	Email  string `json:"email"`
	Result string `json:"result"` // sent, failed
	Error  string `json:"error,omitempty"`
}

// reminders reads the reminders sent in scope: firm → period → kinds sent,
// and firm → last reminder time.
func (c *Console) reminders(ctx context.Context, scope string) (map[string]map[string][]string, map[string]time.Time, error) {
	rows, err := c.st.auditRows(ctx, qReminders, regionPrefix(scope))
	if err != nil {
		return nil, nil, err
	}
	sent, last := map[string]map[string][]string{}, map[string]time.Time{}
	for _, r := range rows {
		var d reminderDetail
		if json.Unmarshal([]byte(r.Detail), &d) != nil || d.Result != "sent" {
			continue
		}
		if sent[r.ObjectID] == nil {
			sent[r.ObjectID] = map[string][]string{}
		}
		sent[r.ObjectID][d.Period] = append(sent[r.ObjectID][d.Period], d.Kind)
		if r.At.After(last[r.ObjectID]) {
			last[r.ObjectID] = r.At
		}
	}
	return sent, last, nil
}

type reportingData struct {
	Period   string
	Deadline time.Time
	Late     bool
	Firms    []Firm
	Last     map[string]time.Time
}

func (c *Console) parsePeriodParam(s string) (report.Period, bool) {
	cur := c.currentPeriod(c.now())
	if s == "" {
		return cur, true
	}
	p, err := report.ParsePeriod(s)
	if err != nil || p > cur || p < report.MinPeriod {
		return 0, false
	}
	return p, true
}

func (c *Console) reporting(w http.ResponseWriter, r *http.Request, rq *request) {
	period, ok := c.parsePeriodParam(r.URL.Query().Get("period"))
	if !ok {
		c.errorPage(w, r, rq, http.StatusBadRequest, "err_period")
		return
	}
	firms, err := c.missing(r.Context(), rq.user.Region, period)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	_, last, err := c.reminders(r.Context(), rq.user.Region)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	dl := report.Deadline(period, c.opts.DeadlineDay)
	p := rq.page
	p.Title, p.Nav = p.T["reporting_heading"], "reporting"
	p.Data = reportingData{Period: period.String(), Deadline: dl, Late: !c.now().Before(dl), Firms: firms, Last: last}
	if e := r.URL.Query().Get("error"); strings.HasPrefix(e, "err_") {
		p.Error = p.T[e]
	}
	if n := r.URL.Query().Get("reminded"); n != "" {
		p.Flash = fmt.Sprintf(p.T["done_remind"], atoiOr(n, 0))
	}
	c.render(w, http.StatusOK, "reporting", p)
}

func atoiOr(s string, def int) int {
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		return def
	}
	return n
}

// remindPost sends reminders by hand: to one firm of the user's scope, or
// to every firm of the scope without a report.
func (c *Console) remindPost(w http.ResponseWriter, r *http.Request, rq *request) {
	period, ok := c.parsePeriodParam(r.PostForm.Get("period"))
	if !ok {
		c.errorPage(w, r, rq, http.StatusBadRequest, "err_period")
		return
	}
	back := "/reporting?period=" + period.String()
	if c.send == nil {
		http.Redirect(w, r, back+"&error=err_no_smtp", http.StatusSeeOther) //nolint:gosec // a local path with a parsed period
		return
	}
	firms, err := c.missing(r.Context(), rq.user.Region, period)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if id := r.PostForm.Get("firm"); r.PostForm.Get("all") != "1" {
		i := slices.IndexFunc(firms, func(f Firm) bool { return f.ID == id })
		if i < 0 {
			// not in scope, unknown, or reported already: the same answer
			c.errorPage(w, r, rq, http.StatusNotFound, "err_not_found")
			return
		}
		if firms[i].ContactEmail == "" {
			http.Redirect(w, r, back+"&error=err_no_email", http.StatusSeeOther) //nolint:gosec // a local path with a parsed period
			return
		}
		firms = firms[i : i+1]
	}
	n := 0
	for _, f := range firms {
		if f.ContactEmail == "" {
			continue
		}
		if err := c.remind(r.Context(), f, period, RemindHand, rq, r); err == nil {
			n++
		}
	}
	http.Redirect(w, r, back+"&reminded="+url.QueryEscape(fmt.Sprint(n)), http.StatusSeeOther) //nolint:gosec // a local path with a parsed period
}

// remind sends one reminder and records it (sent or failed) in the audit
// trail; rq is nil for the automatic ones.
func (c *Console) remind(ctx context.Context, f Firm, period report.Period, kind string, rq *request, r *http.Request) error {
	msg, err := c.reminderMessage(f, period, kind)
	if err != nil {
		return err
	}
	d := reminderDetail{Period: period.String(), Kind: kind, Email: f.ContactEmail, Result: "sent"}
	_, sendErr := c.send.Send(ctx, msg)
	if sendErr != nil {
		d.Result, d.Error = "failed", sendErr.Error()
		c.log.Warn("reminder not sent", "firm_id", f.ID, "period", period.String(), "err", sendErr)
	}
	c.m.reminders.WithLabelValues(kind, d.Result).Inc()
	row := AuditRow{Action: "remind", ObjectKind: "firm", ObjectID: f.ID, Region: f.Region, Detail: mustJSON(d)}
	var err2 error
	if rq != nil {
		err2 = c.audit(ctx, rq, r, row)
	} else {
		row.ID, row.At, row.Actor, row.ActorRole = newID(), c.now(), "system", "system"
		err2 = c.st.audit(ctx, row)
	}
	return errors.Join(sendErr, err2)
}

func (c *Console) reminderMessage(f Firm, period report.Period, kind string) (*gomail.Msg, error) {
	dl := report.Deadline(period, c.opts.DeadlineDay).Add(-time.Second).In(report.Shanghai()).Format("2006-01-02 15:04")
	place := f.Region
	if reg, ok := c.regions.Lookup(f.Region); ok {
		place = reg.Name
		if pre, ok := c.regions.Lookup(region.PrefectureOf(f.Region)); ok {
			place = pre.Name + reg.Name
		}
	}
	subject := fmt.Sprintf("【失业动态监测】请报送%s月报（%s）", period, f.Name)
	lead := fmt.Sprintf("%s您好：\n\n贵单位（%s，统一社会信用代码 %s）%s的失业动态监测月报尚未报送，报送截止时间为 %s。", f.ContactName, f.Name, f.ID, period, dl)
	if kind == RemindLate {
		subject = fmt.Sprintf("【失业动态监测】%s月报已逾期（%s）", period, f.Name)
		lead = fmt.Sprintf("%s您好：\n\n贵单位（%s，统一社会信用代码 %s）%s的失业动态监测月报已超过截止时间（%s），请尽快报送。", f.ContactName, f.Name, f.ID, period, dl)
	}
	body := lead + "\n\n请登录企业月报系统报送；如有疑问请联系" + place + "人力资源和社会保障部门。\n\n" +
		fmt.Sprintf("Your monthly employment report for %s is due by %s (Asia/Shanghai). Please report as soon as possible.\n", period, dl)
	m := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := m.From(c.opts.SMTPFrom); err != nil {
		return nil, fmt.Errorf("reminder from: %w", err)
	}
	if err := m.AddToFormat(oneLine(f.ContactName), f.ContactEmail); err != nil {
		return nil, fmt.Errorf("reminder to: %w", err)
	}
	m.Subject(oneLine(subject))
	m.SetMessageIDWithValue(fmt.Sprintf("remind.%s.%s.%s.%d@layoffwatch", f.ID, period, kind, c.now().Unix()))
	m.SetDateWithValue(c.now())
	m.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	m.SetGenHeader(gomail.Header("X-Layoffwatch-Kind"), "reminder-"+kind)
	m.SetBodyString(gomail.TypeTextPlain, body)
	m.AddAlternativeString(gomail.TypeTextHTML, "<p>"+strings.ReplaceAll(html.EscapeString(body), "\n", "<br>")+"</p>")
	return m, nil
}

func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// RunReminders sends the automatic reminders until ctx ends: every
// RemindCheck, to each firm with a contact email and no report, once
// within RemindBefore of the deadline and once after it. Off when
// --reminders off or no mail server is configured.
func (c *Console) RunReminders(ctx context.Context) error {
	if c.opts.Reminders != "auto" || c.send == nil {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(c.opts.RemindCheck)
	defer t.Stop()
	for {
		if n, err := c.RemindOnce(ctx); err != nil {
			c.log.Warn("automatic reminders", "err", err)
		} else if n > 0 {
			c.log.Info("reminders sent", "firms", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// RemindOnce sends the reminders due now, for the whole country's firms of
// the registry, and returns how many were sent.
func (c *Console) RemindOnce(ctx context.Context) (int, error) {
	if c.send == nil {
		return 0, errors.New("no mail server configured")
	}
	now := c.now()
	sent := 0
	for _, period := range []report.Period{c.currentPeriod(now).Add(-1), c.currentPeriod(now)} {
		dl := report.Deadline(period, c.opts.DeadlineDay)
		kind := ""
		switch {
		case !now.Before(dl):
			kind = RemindLate
		case !now.Before(dl.Add(-c.opts.RemindBefore)):
			kind = RemindDue
		default:
			continue
		}
		for _, prov := range c.regions.Provinces() {
			firms, err := c.missing(ctx, prov.Code, period)
			if err != nil {
				return sent, err
			}
			if len(firms) == 0 {
				continue
			}
			done, _, err := c.reminders(ctx, prov.Code)
			if err != nil {
				return sent, err
			}
			for _, f := range firms {
				if f.ContactEmail == "" || slices.Contains(done[f.ID][period.String()], kind) {
					continue
				}
				if err := c.remind(ctx, f, period, kind, nil, nil); err != nil {
					continue
				}
				sent++
			}
		}
	}
	return sent, nil
}
