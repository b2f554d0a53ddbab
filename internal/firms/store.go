package firms

import (
	"context"
	"fmt"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/chdb"
)

// The registry's ClickHouse table (firms, migration 0001). The registry is
// written by `layoffwatch firms import` and the demo, and read by ingest,
// the gateway and the detector; its statements live here, with the format.
var queries = chdb.NewCatalog("firms")

var (
	insFirms = queries.Insert("upsert", "firms", "firm_id", "name", "region", "prefecture", "industry",
		"baseline_headcount", "ownership", "enrolled_from", "enrolled_to", "updated_at")
	qFirms = queries.Query("all", `SELECT firm_id, name, region, industry, baseline_headcount, ownership, enrolled_from, enrolled_to
		FROM firms FINAL ORDER BY firm_id`)
	qIDs = queries.Query("ids", "SELECT DISTINCT firm_id FROM firms ORDER BY firm_id")
	// the optional contacts (migration 0008), a table of their own
	insContacts = queries.Insert("upsert_contacts", "firm_contacts", "firm_id", "contact_name", "contact_email", "contact_phone", "updated_at")
	qContacts   = queries.Query("contacts", `SELECT firm_id, contact_name, contact_email, contact_phone FROM firm_contacts FINAL ORDER BY firm_id`)
)

// Statements is the registry's catalog (the parity test runs every one).
func Statements() *chdb.Catalog { return queries }

// Store reads and writes the registry in ClickHouse.
type Store struct{ ch *chdb.Client }

// NewStore returns the registry on ch.
func NewStore(ch *chdb.Client) *Store { return &Store{ch: ch} }

// Upsert writes firms; a firm already present is replaced (the latest
// updated_at wins).
func (s *Store) Upsert(ctx context.Context, list []Firm) error {
	if len(list) == 0 {
		return nil
	}
	now := time.Now().UTC().Truncate(time.Second)
	n := len(list)
	var (
		id, name, reg, pref, ind, own = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		base                          = make([]uint32, 0, n)
		from, to                      = make([]*time.Time, 0, n), make([]*time.Time, 0, n)
		upd                           = make([]time.Time, 0, n)
	)
	date := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	for _, f := range list {
		id = append(id, f.ID)
		name = append(name, f.Name)
		reg = append(reg, f.Region)
		pref = append(pref, f.Prefecture())
		ind = append(ind, f.Industry)
		base = append(base, f.BaselineHeadcount)
		own = append(own, f.Ownership)
		from = append(from, date(f.EnrolledFrom))
		to = append(to, date(f.EnrolledTo))
		upd = append(upd, now)
	}
	if err := s.ch.InsertColumns(ctx, insFirms, id, name, reg, pref, ind, base, own, from, to, upd); err != nil {
		return fmt.Errorf("store firms: %w", err)
	}
	// every firm's row, empty ones too: a re-import without a contact
	// clears the old one
	cname, cmail, cphone := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
	for _, f := range list {
		cname, cmail, cphone = append(cname, f.ContactName), append(cmail, f.ContactEmail), append(cphone, f.ContactPhone)
	}
	if err := s.ch.InsertColumns(ctx, insContacts, id, cname, cmail, cphone, upd); err != nil {
		return fmt.Errorf("store firm contacts: %w", err)
	}
	return nil
}

// All reads the registry, sorted by id.
func (s *Store) All(ctx context.Context) ([]Firm, error) {
	rows, err := s.ch.Query(ctx, qFirms)
	if err != nil {
		return nil, fmt.Errorf("query firms: %w", err)
	}
	defer rows.Close()
	var out []Firm
	for rows.Next() {
		var f Firm
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
	contacts, err := s.ch.Query(ctx, qContacts)
	if err != nil {
		return nil, fmt.Errorf("query firm contacts: %w", err)
	}
	defer contacts.Close()
	byID := make(map[string]int, len(out))
	for i, f := range out {
		byID[f.ID] = i
	}
	for contacts.Next() {
		var id, name, email, phone string
		if err := contacts.Scan(&id, &name, &email, &phone); err != nil {
			return nil, fmt.Errorf("scan firm contact: %w", err)
		}
		if i, ok := byID[id]; ok {
			out[i].ContactName, out[i].ContactEmail, out[i].ContactPhone = name, email, phone
		}
	}
	if err := contacts.Err(); err != nil {
		return nil, fmt.Errorf("read firm contacts: %w", err)
	}
	return out, nil
}

// IDs reads the ids of every registered firm.
func (s *Store) IDs(ctx context.Context) (map[string]struct{}, error) {
	rows, err := s.ch.Query(ctx, qIDs)
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
