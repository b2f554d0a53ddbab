package chdb

import (
	"context"
	"fmt"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/firms"
)

// Firms reads the registry.
func (c *Client) Firms(ctx context.Context) ([]firms.Firm, error) {
	rows, err := c.conn.Query(ctx, `SELECT firm_id, name, region, industry, baseline_headcount, ownership, enrolled_from, enrolled_to
		FROM firms FINAL ORDER BY firm_id`)
	if err != nil {
		return nil, fmt.Errorf("query firms: %w", err)
	}
	defer rows.Close()
	var out []firms.Firm
	for rows.Next() {
		var f firms.Firm
		var from, to *time.Time
		if err := rows.Scan(&f.ID, &f.Name, &f.Region, &f.Industry, &f.BaselineHeadcount, &f.Ownership, &from, &to); err != nil {
			return nil, fmt.Errorf("scan firm: %w", err)
		}
		if from != nil {
			f.EnrolledFrom = *from
		}
		if to != nil {
			f.EnrolledTo = *to
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read firms: %w", err)
	}
	return out, nil
}

// FirmIDs reads the ids of every registered firm.
func (c *Client) FirmIDs(ctx context.Context) (map[string]struct{}, error) {
	rows, err := c.conn.Query(ctx, "SELECT DISTINCT firm_id FROM firms")
	if err != nil {
		return nil, fmt.Errorf("query firm ids: %w", err)
	}
	defer rows.Close()
	ids := make(map[string]struct{})
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("scan firm id: %w", err)
		}
		ids[id] = struct{}{}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read firm ids: %w", err)
	}
	return ids, nil
}

// PrefectureMonth is the summed headcount of one prefecture in one month.
type PrefectureMonth struct {
	Prefecture string
	Period     time.Time
	Firms      uint64
	Headcount  uint64
}

// HeadcountByPrefecture sums the latest reports by prefecture and month.
func (c *Client) HeadcountByPrefecture(ctx context.Context) ([]PrefectureMonth, error) {
	rows, err := c.conn.Query(ctx, `SELECT f.prefecture, r.period, count(), sum(r.headcount)
		FROM reports_latest AS r
		ANY INNER JOIN (SELECT firm_id, prefecture FROM firms FINAL) AS f USING firm_id
		GROUP BY f.prefecture, r.period
		ORDER BY f.prefecture, r.period`)
	if err != nil {
		return nil, fmt.Errorf("query headcount by prefecture: %w", err)
	}
	defer rows.Close()
	var out []PrefectureMonth
	for rows.Next() {
		var m PrefectureMonth
		if err := rows.Scan(&m.Prefecture, &m.Period, &m.Firms, &m.Headcount); err != nil {
			return nil, fmt.Errorf("scan headcount: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read headcount: %w", err)
	}
	return out, nil
}
