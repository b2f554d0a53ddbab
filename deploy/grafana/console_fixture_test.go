package grafana_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/layoffwatch/layoffwatch/internal/alertevent"
)

// insertConsoleCases records the handling of some warnings as the console
// does (its append-only console_audit rows and its acknowledgements), so
// the handling dashboard's queries have cases in every state: of each five
// warnings, one is untouched, one acknowledged, one verified, one
// responding and one closed (the verdicts in turn); acknowledgements come
// from 10 minutes to 30 hours after the warning, some past the deadline.
func insertConsoleCases(ctx context.Context, ch driver.Conn, events []alertevent.Event) error {
	var firing []alertevent.Event
	for _, e := range events {
		if e.Kind == alertevent.Firing {
			firing = append(firing, e)
		}
	}
	sort.Slice(firing, func(i, j int) bool { return firing[i].ID < firing[j].ID })
	firing = firing[:min(len(firing), 300)]
	audit, err := ch.PrepareBatch(ctx, "INSERT INTO console_audit (id, at, actor, actor_role, address, action, object_kind, object_id, region, seq, status, before, after, detail)")
	if err != nil {
		return err
	}
	acks, err := ch.PrepareBatch(ctx, "INSERT INTO acks (alert_id, recipient, at, comment, via)")
	if err != nil {
		return err
	}
	verdicts := []string{"true_warning", "false_alarm", "seasonal", "data_error"}
	measures := []string{"retention_refund", "training", "unemployment_benefits", "job_matching", "redeployment", "other"}
	for i, e := range firing {
		steps := i % 5
		if steps == 0 {
			continue
		}
		who := "official-" + e.Region
		at := e.At.Add(10*time.Minute + time.Duration(i%30)*time.Hour).UTC().Truncate(time.Second)
		if err := acks.Append(e.ID, who+"@gs.example.cn", at, "", "console"); err != nil {
			return err
		}
		type step struct{ action, status, detail string }
		all := []step{
			{"ack", "acknowledged", `{"action":"ack","comment":""}`},
			{"verify", "verified", `{"action":"verify","finding":"economic_layoff","method":"phone","note":""}`},
			{"respond", "responding", fmt.Sprintf(`{"action":"respond","measure":%q,"note":"","workers":%d}`, measures[i%len(measures)], 10+i%90)},
			{"close", "closed", fmt.Sprintf(`{"action":"close","note":"","verdict":%q}`, verdicts[(i/5)%len(verdicts)])},
		}
		before := `{"status":"new"}`
		for n, s := range all[:steps] {
			state := map[string]any{"alert_id": e.ID, "seq": n + 1, "status": s.status}
			if s.action == "close" {
				var d map[string]string
				_ = json.Unmarshal([]byte(s.detail), &d)
				state["verdict"] = d["verdict"]
			}
			after, _ := json.Marshal(state)
			if err := audit.Append(fmt.Sprintf("%s-%d", e.ID, n+1), at.Add(time.Duration(n)*time.Hour), who, "official", "10.0.0.1", s.action, "case",
				e.ID, e.Region, uint32(n+1), s.status, before, string(after), s.detail); err != nil {
				return err
			}
			before = string(after)
		}
	}
	if err := audit.Send(); err != nil {
		return err
	}
	return acks.Send()
}
