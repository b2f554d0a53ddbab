package detector

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/region"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// A detect replica of several (--shards, --zookeeper) holds some units —
// prefectures and provinces (owner.go) — and each pass:
//
//	registry's prefectures ──▶ owner.claim ──▶ the units it holds
//	     new units: catch up with the alerts topic (what their last holder emitted)
//	firms and reports of its prefectures only ──▶ Dataset (its share)
//	its prefectures' partials ──publish──▶ detector_partials (when they change)
//	every partial of its provinces ──▶ Shared (when any changed; wait
//	     until every prefecture of those provinces has one for this window)
//	share + Shared ──Evaluate──▶ firings ──diff──▶ events of its units only,
//	     emitted only while its leases are valid
//
// No replica holds every firm: its memory is its share plus the partials'
// peer groups (a few numbers per province, industry and month).

// shardStore is what a replica of several needs of ClickHouse beyond
// store; *Store is one.
type shardStore interface {
	Directory(ctx context.Context) (map[string]int, error)
	FirmsIn(ctx context.Context, prefectures []string) ([]firms.Firm, error)
	ReportsIn(ctx context.Context, prefectures []string, from, to report.Period, since, until time.Time, fn func(*MonthRow)) error
	PublishPartials(ctx context.Context, replica string, parts, heads []*Partial, asOf, at time.Time) error
	PartialHeads(ctx context.Context, provinces []string) ([]PartialHead, error)
	PartialData(ctx context.Context, province, industry string, fn func(prefecture string, generation uint64, pi *PartialIndustry) error) error
}

// shareState is a replica's view of its share.
type shareState struct {
	store       shardStore
	owner       owner
	replica     string
	directory   map[string]int // the registry's prefectures and their firms
	directoryAt time.Time
	units       map[string]bool // held: prefectures and provinces
	prefs       []string        // the held prefectures, sorted
	provinces   []string        // the held provinces, sorted
	version     int             // bumped whenever the dataset changes
	published   map[string]uint64
	publishedV  int
	asOf        time.Time         // the epoch the dataset reflects: reports ingested before it
	publishedAt time.Time         // the epoch of the last publication
	basis       map[string]uint64 // prefecture → generation d.shared was built from
	basisProvs  string            // the held provinces it was built for
	shared      *Shared
	waiting     string // why the last pass could not evaluate ("": it could)
	offsets     map[int]int64
	readFrom    func(ctx context.Context, from map[int]int64, fn func(kafka.Message) error) (map[int]int64, error)
}

// epochOf is the epoch a replica reads the reports up to at now: the last
// multiple of step at least one step ago, so that a batch ingested around a
// boundary has become visible on every node by the time it is read. Every
// replica reads up to the same epochs, and evaluates only on partials of
// the epoch of its own data: together they see one state of the reports,
// as one detector would, never a prefecture's new month with another's
// old one.
func epochOf(now time.Time, step time.Duration) time.Time {
	return now.Add(-step).Truncate(step).UTC()
}

// directoryEvery is how often a replica rereads the registry's prefectures
// (what it computes its assignment from).
const directoryEvery = 10 * time.Second

// unitOf is the unit an alert of region belongs to: a province's own alerts
// to the province, any other to its prefecture.
func unitOf(regionCode string) string {
	if regionCode == region.ProvinceOf(regionCode) {
		return regionCode
	}
	return region.PrefectureOf(regionCode)
}

// refreshShare claims the replica's units and keeps its dataset — the
// firms and reports of its prefectures — current.
func (d *daemon) refreshShare(ctx context.Context, now time.Time) error {
	sh := d.share
	end := report.PeriodOf(now.In(report.Shanghai()))
	start := end.Add(1 - d.opts.Window)
	if sh.directory == nil || now.Sub(sh.directoryAt) >= directoryEvery {
		dir, err := sh.store.Directory(ctx)
		if err != nil {
			return err
		}
		sh.directory, sh.directoryAt = dir, now
	}
	units, err := sh.owner.claim(ctx, unitsOf(sh.directory))
	if err != nil {
		return err
	}
	var gained, prefs, provs []string
	for u := range units {
		if !sh.units[u] {
			gained = append(gained, u)
		}
		if region.LevelOf(u) == region.Province {
			provs = append(provs, u)
		} else {
			prefs = append(prefs, u)
		}
	}
	slices.Sort(prefs)
	slices.Sort(provs)
	if len(gained) > 0 {
		// what the units' last holder emitted, before any diff over them
		if err := d.catchUp(ctx, units); err != nil {
			return err
		}
		slices.Sort(gained)
		d.log.Info("units taken", "units", strings.Join(gained, ","))
	}
	for u := range sh.units {
		if !units[u] {
			d.log.Info("unit released", "unit", u)
		}
	}
	changed := !slices.Equal(prefs, sh.prefs)
	sh.units, sh.prefs, sh.provinces = units, prefs, provs
	d.m.units.WithLabelValues("prefecture").Set(float64(len(prefs)))
	d.m.units.WithLabelValues("province").Set(float64(len(provs)))
	if len(provs) > 0 || len(prefs) > 0 {
		d.dirty = d.dirty || len(gained) > 0
	}
	rebuild := d.ds == nil || d.ds.Start() != start || changed
	if rebuild || now.Sub(d.firmsAt) >= time.Minute {
		var list []firms.Firm
		if len(prefs) > 0 {
			if list, err = sh.store.FirmsIn(ctx, prefs); err != nil {
				return err
			}
		}
		d.firmsAt = now
		if h := hashFirms(list); h != d.firmsHash || rebuild {
			d.firmsHash = h
			ds, err := NewDataset(list, start, end)
			if err != nil {
				return err
			}
			d.ds, d.since, d.dirty = ds, time.Time{}, true
			sh.version++
			d.m.firms.Set(float64(len(list)))
		}
	}
	asOf := epochOf(now, d.opts.ShareEpoch)
	if len(prefs) == 0 {
		sh.asOf = asOf
		return nil
	}
	if !asOf.After(d.since) { // the epoch has not moved
		sh.asOf = d.since
		return nil
	}
	// ingested_at is when ingest began the batch, not when its rows became
	// visible (an insert retried while ClickHouse restarts, a lagging shard
	// replica): read the last readOverlap again; Set ignores what it holds
	from := d.since
	if !from.IsZero() {
		from = from.Add(-readOverlap)
	}
	err = sh.store.ReportsIn(ctx, prefs, d.ds.Start(), d.ds.End(), from, asOf, func(r *MonthRow) {
		if d.ds.Set(r.FirmID, r.Period, r.Revision, r.Headcount, r.Vacancies, r.Hires, r.Sep) {
			d.dirty = true
			sh.version = max(sh.version, sh.publishedV+1)
		}
	})
	if err != nil {
		return err
	}
	d.since, sh.asOf = asOf, asOf
	return nil
}

// readOverlap is how far back a replica reads again each pass: longer than
// an insert's retries last (ingest's insert timeout and backoff) and a shard
// replica's usual lag.
const readOverlap = 10 * time.Minute

// catchUp reads the alert events emitted since the replica last read the
// topic, so that the state of units it takes over is what their last holder
// left; the events of its units are recorded in ClickHouse again (in case
// their emitter died between the topic and the table: a repeat is one row).
func (d *daemon) catchUp(ctx context.Context, units map[string]bool) error {
	sh := d.share
	next, err := sh.readFrom(ctx, sh.offsets, func(m kafka.Message) error {
		e, err := alertevent.Decode(m.Value)
		if err != nil {
			d.log.Warn("skipping an undecodable alert event", "offset", m.Offset, "err", err)
			return nil
		}
		if s, ok := d.state[e.ID]; !ok || e.Version > s.Version {
			d.state[e.ID] = &e
		}
		if units[unitOf(e.Region)] {
			d.pending = append(d.pending, e)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("catch up with the alert events: %w", err)
	}
	sh.offsets = next
	return nil
}

// exchange publishes the partials of the replica's prefectures when they
// changed, and brings d.shared up to date with every partial of its
// provinces. It reports false, with sh.waiting saying why, while a
// prefecture of those provinces has no partial for this window yet.
func (d *daemon) exchange(ctx context.Context, now time.Time) (bool, error) {
	sh := d.share
	if sh.version != sh.publishedV || sh.published == nil || !sh.asOf.Equal(sh.publishedAt) {
		// every prefecture's partial as of the epoch: whole when its
		// data changed, its head alone when only the epoch moved
		var changed, heads []*Partial
		if sh.published == nil {
			sh.published = map[string]uint64{}
		}
		for _, p := range Partials(d.ds) {
			if g := p.Hash(); sh.published[p.Prefecture] != g {
				changed = append(changed, p)
			} else {
				heads = append(heads, p)
			}
		}
		if len(changed)+len(heads) > 0 {
			if err := sh.store.PublishPartials(ctx, sh.replica, changed, heads, sh.asOf, now); err != nil {
				return false, fmt.Errorf("publish partials: %w", err)
			}
			for _, p := range changed {
				sh.published[p.Prefecture] = p.Hash()
			}
			d.m.partials.Add(float64(len(changed)))
		}
		sh.publishedV, sh.publishedAt = sh.version, sh.asOf
	}
	// the provinces the share needs partials of: those of its prefectures
	// (their peer groups) and those it holds (their sums)
	need := slices.Clone(sh.provinces)
	for _, p := range sh.prefs {
		need = append(need, region.ProvinceOf(p))
	}
	slices.Sort(need)
	need = slices.Compact(need)
	if len(need) == 0 {
		sh.waiting = ""
		return false, nil
	}
	heads, err := sh.store.PartialHeads(ctx, need)
	if err != nil {
		return false, err
	}
	gens := map[string]uint64{}
	for _, h := range heads {
		if h.Start == d.ds.Start() && h.Months == d.ds.months && h.AsOf.Equal(sh.asOf) {
			gens[h.Prefecture] = h.Generation
		}
	}
	basis := map[string]uint64{}
	var missing []string
	for pref := range sh.directory {
		if !slices.Contains(need, region.ProvinceOf(pref)) {
			continue
		}
		g, ok := gens[pref]
		if !ok {
			missing = append(missing, pref)
			continue
		}
		basis[pref] = g
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		why := fmt.Sprintf("waiting for the partials of %d prefectures (%s) for the window from %s", len(missing), strings.Join(firstN(missing, 5), ", "), d.ds.Start())
		if why != sh.waiting {
			// (each epoch, a replica may wait a moment for the others)
			d.log.Debug(why, "as_of", sh.asOf)
		}
		sh.waiting = why
		d.m.waiting.Set(1)
		return false, nil
	}
	sh.waiting = ""
	d.m.waiting.Set(0)
	provKey := strings.Join(sh.provinces, ",")
	if sh.shared != nil && provKey == sh.basisProvs && mapsEqual(basis, sh.basis) && sh.shared.Start == d.ds.Start() {
		return true, nil
	}
	shared, err := d.buildShared(ctx, need, basis)
	if err != nil {
		return false, err
	}
	sh.shared, sh.basis, sh.basisProvs = shared, basis, provKey
	d.dirty = true
	return true, nil
}

// buildShared reads the partials of the provinces — industry by industry,
// so that no more than one industry's changes are in memory at once — and
// keeps the rows of the generations in basis.
func (d *daemon) buildShared(ctx context.Context, provinces []string, basis map[string]uint64) (*Shared, error) {
	sh := d.share
	out := &Shared{Start: d.ds.Start(), Months: d.ds.months, Peers: map[string]*PeerSeries{}, Provinces: map[string]map[string][]RegionSums{}}
	for _, prov := range sh.provinces {
		out.Provinces[prov] = map[string][]RegionSums{}
	}
	for _, prov := range provinces {
		for ind := 'A'; ind <= 'T'; ind++ {
			industry := string(ind)
			var changes [][][]float32
			err := sh.store.PartialData(ctx, prov, industry, func(pref string, gen uint64, pi *PartialIndustry) error {
				if g, ok := basis[pref]; !ok || g != gen {
					return nil
				}
				if len(pi.Changes) != out.Months || len(pi.Sums) != out.Months {
					return fmt.Errorf("partial %s/%s has %d months, the window %d", pref, industry, len(pi.Changes), out.Months)
				}
				changes = append(changes, pi.Changes)
				if sums, ok := out.Provinces[prov]; ok {
					acc := sums[industry]
					if acc == nil {
						acc = make([]RegionSums, out.Months)
						sums[industry] = acc
					}
					for m := range acc {
						acc[m].add(pi.Sums[m])
					}
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
			if len(changes) > 0 {
				out.Peers[prov+"/"+industry] = NewPeerSeries(out.Months, changes...)
			}
		}
	}
	return out, nil
}

func firstN(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return append(slices.Clone(s[:n]), "…")
}

func mapsEqual(a, b map[string]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
