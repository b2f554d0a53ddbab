package demo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/layoffwatch/layoffwatch/internal/localstack"
	"github.com/layoffwatch/layoffwatch/internal/region"
	"github.com/layoffwatch/layoffwatch/internal/simulate"
)

// printHeadcountTable prints the monitored sample's headcount by month
// (rows) and prefecture (columns).
func printHeadcountTable(ctx context.Context, w io.Writer, ds *Store) error {
	rows, err := ds.HeadcountByPrefecture(ctx)
	if err != nil {
		return err
	}
	prefs := region.Gansu().Prefectures()
	cell := map[string]map[string]uint64{}
	var months []string
	for _, r := range rows {
		m := r.Period.Format("2006-01")
		if cell[m] == nil {
			cell[m] = map[string]uint64{}
			months = append(months, m)
		}
		cell[m][r.Prefecture] += r.Headcount
	}
	slices.Sort(months)
	fmt.Fprintln(w, "Headcount of the monitored sample by prefecture and month (latest revisions, from ClickHouse):")
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', tabwriter.AlignRight)
	head := []string{"month"}
	for _, p := range prefs {
		head = append(head, shortName(p.NameEn))
	}
	fmt.Fprintln(tw, strings.Join(append(head, "Gansu", ""), "\t"))
	for _, m := range months {
		line := []string{m}
		var total uint64
		for _, p := range prefs {
			v := cell[m][p.Code]
			total += v
			line = append(line, fmt.Sprint(v))
		}
		fmt.Fprintln(tw, strings.Join(append(line, fmt.Sprint(total), ""), "\t"))
	}
	return tw.Flush()
}

// shortName is the first word of an English prefecture name, at most 9
// letters: a column heading.
func shortName(en string) string {
	en, _, _ = strings.Cut(en, " ")
	if len(en) > 9 {
		en = en[:9]
	}
	return en
}

// printWarnings prints the open warnings by level and rule.
func printWarnings(ctx context.Context, w io.Writer, ds *Store) error {
	counts, err := ds.Warnings(ctx)
	if err != nil {
		return err
	}
	byLevel := map[string]uint64{}
	var lines []string
	for _, c := range counts {
		byLevel[c.A] += c.N
		lines = append(lines, fmt.Sprintf("  %-4s %-18s %6d", c.A, c.B, c.N))
	}
	fmt.Fprintf(w, "\nWarnings raised by the detector (plan rules, all months): I %d · II %d · III %d · IV %d\n",
		byLevel["I"], byLevel["II"], byLevel["III"], byLevel["IV"])
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	return printOldWarnings(ctx, w, ds)
}

// printOldWarnings says how many warnings are about months past the alert
// horizon — history, told in summaries — and how many are current.
func printOldWarnings(ctx context.Context, w io.Writer, ds *Store) error {
	byOld, err := ds.OldWarnings(ctx)
	if err != nil {
		return err
	}
	emails, officials, told, err := ds.Summaries(ctx)
	if err != nil {
		return err
	}
	var old uint64
	var reasons []string
	for _, reason := range slices.Sorted(maps.Keys(byOld)) {
		if reason != "" {
			old += byOld[reason]
			reasons = append(reasons, fmt.Sprintf("%s %d", reason, byOld[reason]))
		}
	}
	why := ""
	if len(reasons) > 0 {
		why = " (" + strings.Join(reasons, ", ") + ")"
	}
	fmt.Fprintf(w, "  current, about the latest months: %d — emailed as warnings, with the plan's response deadlines\n", byOld[""])
	fmt.Fprintf(w, "  old, about months past the alert horizon: %d%s — not emergencies: %d warnings told in %d summary emails to %d officials, no deadline, no escalation\n",
		old, why, told, emails, officials)
	return nil
}

// printEventsSeen lists the planted events with the headcounts ClickHouse
// holds for their firms before and after, and the warnings raised.
func printEventsSeen(ctx context.Context, w io.Writer, ds *Store, events []simulate.Event) error {
	if len(events) == 0 {
		return nil
	}
	regions := region.Gansu()
	fmt.Fprintln(w, "\nPlanted layoff events, what ClickHouse holds for their firms, and what the detector raised:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "period\tkind\tcounty\tfirms\tplanted\tin ClickHouse\tdetector warnings\t")
	for _, ev := range events {
		before, after, err := eventHeadcounts(ctx, ds, ev)
		if err != nil {
			return err
		}
		name := ev.Region
		if r, ok := regions.Lookup(ev.Region); ok {
			name = ev.Region + " " + r.NameEn
		}
		warnings, err := eventWarnings(ctx, ds, ev)
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d → %d\t%d → %d\t%s\t\n", ev.Period, ev.Kind, name, len(ev.Firms), ev.Before(), ev.After(), before, after, warnings)
	}
	return tw.Flush()
}

// eventWarnings lists the warnings about the event's firms or its region
// in its months or the month after (an event caught late is still
// caught), as rule:level.
func eventWarnings(ctx context.Context, ds *Store, ev simulate.Event) (string, error) {
	keys := []string{ev.Region}
	for _, f := range ev.Firms {
		keys = append(keys, f.FirmID)
	}
	counts, err := ds.EventWarnings(ctx, keys, ev.Period.Start(), ev.Period.Add(ev.Months).Start())
	if err != nil {
		return "", err
	}
	var out []string
	for _, c := range counts {
		s := c.A + ":" + c.B
		if c.N > 1 {
			s += fmt.Sprintf("×%d", c.N)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return "NOT FOUND", nil
	}
	return strings.Join(out, " "), nil
}

func eventHeadcounts(ctx context.Context, ds *Store, ev simulate.Event) (before, after uint64, err error) {
	ids := make([]string, len(ev.Firms))
	for i, f := range ev.Firms {
		ids[i] = f.FirmID
	}
	return ds.EventHeadcounts(ctx, ids, ev.Period.Add(-1).Start(), ev.Period.Add(ev.Months-1).Start())
}

// printEmails says where the emails are and shows those about the planted
// events.
func printEmails(ctx context.Context, w io.Writer, ds *Store, catcher *localstack.MailCatcher, events []simulate.Event) error {
	n, _ := catcher.Count()
	counts, err := ds.Emails(ctx)
	if err != nil {
		return err
	}
	var parts []string
	for _, c := range counts {
		parts = append(parts, fmt.Sprintf("%s %s %d", c.A, c.B, c.N))
	}
	fmt.Fprintf(w, "\nEmails to officials: %d messages written to %s (open them with any mail program)\n", n, catcher.Dir)
	fmt.Fprintf(w, "  notification log: %s\n", strings.Join(parts, " · "))
	files, _ := filepath.Glob(filepath.Join(catcher.Dir, "*.eml"))
	shown := map[string]bool{} // one summary may name the firms of several events
	for _, ev := range events {
		for _, f := range files {
			if shown[f] {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil || !bytes.Contains(b, []byte(ev.Firms[0].FirmID)) {
				continue
			}
			msg, err := mail.ReadMessage(bytes.NewReader(b))
			if err != nil {
				continue
			}
			subj, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
			to, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("To"))
			fmt.Fprintf(w, "  %s  to %s\n      %s\n", filepath.Base(f), to, subj)
			shown[f] = true
			break
		}
		if len(shown) >= 6 {
			break
		}
	}
	return nil
}
