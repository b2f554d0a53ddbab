package detector

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"sort"

	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/region"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// A sharded detector: each replica owns some prefectures, loads only their
// firms and evaluates their firm, county and prefecture rules; a province's
// rules are evaluated by the replica that owns the province. What needs
// firms beyond a replica's share is exchanged as partials, one per
// prefecture:
//
//	replica's firms ──▶ Partial of each owned prefecture, per industry:
//	                     the changes c(t) of its firms reporting t−1 and t,
//	                     and the sums a province's metrics are made of
//	every prefecture's partial of a province ──▶ Shared:
//	    the province-industry peer groups (median, spread, count of c: a
//	    firm's fallback peers, a prefecture's expectation and firms_z) and,
//	    for an owned province, its sums (ΣH(t), ΣH(t−1) over the panel, …)
//	share + Shared ──Evaluate──▶ exactly the single detector's firings of
//	    the share's prefectures (and owned provinces)
//
// The changes are exact values (a few bytes per firm and month, far less
// than a firm's month in the dataset), so the medians are the single
// detector's; the sums are sums of integers, exact in any order. A province
// rule may not read its `firms` (CheckSharded): no replica holds them.

// RegionSums is what a region's metrics are made of, summed over its firms
// for one month (the fields group.metrics adds up, and the panel's sums
// group.expectation adds up); a province's are the sums of its
// prefectures'.
type RegionSums struct {
	FirmsExpected, FirmsReported             float64
	Headcount, Baseline, Loss, PrevHeadcount float64
	MoMFirms, MoMHeadcount, MoMPrevHeadcount float64
	PanelFirms, PanelNow, PanelPrev          float64
	// the firm of the month-on-month set that lost most: its loss and H(t−1)
	MoMWorstLoss, MoMWorstPrev float64
}

func (s *RegionSums) add(o RegionSums) {
	s.FirmsExpected += o.FirmsExpected
	s.FirmsReported += o.FirmsReported
	s.Headcount += o.Headcount
	s.Baseline += o.Baseline
	s.Loss += o.Loss
	s.PrevHeadcount += o.PrevHeadcount
	s.MoMFirms += o.MoMFirms
	s.MoMHeadcount += o.MoMHeadcount
	s.MoMPrevHeadcount += o.MoMPrevHeadcount
	s.PanelFirms += o.PanelFirms
	s.PanelNow += o.PanelNow
	s.PanelPrev += o.PanelPrev
	if worseLoss(o.MoMWorstLoss, o.MoMWorstPrev, s.MoMWorstLoss, s.MoMWorstPrev) {
		s.MoMWorstLoss, s.MoMWorstPrev = o.MoMWorstLoss, o.MoMWorstPrev
	}
}

// Partial is one prefecture's contribution to its province over a window:
// per industry of its firms, every month's changes and sums.
type Partial struct {
	Prefecture string
	Start      report.Period
	Months     int
	Industries []PartialIndustry // sorted by industry
}

// Province is the partial's province.
func (p *Partial) Province() string { return region.ProvinceOf(p.Prefecture) }

// PartialIndustry is the part of a prefecture's partial about one industry.
type PartialIndustry struct {
	Industry string
	// Changes[m] are the changes c of month m of the firms reporting m−1
	// and m, sorted.
	Changes [][]float32
	// Sums[m] are month m's sums over the firms.
	Sums []RegionSums
}

// Partials computes the partial of every prefecture of the dataset's firms,
// sorted by prefecture.
func Partials(ds *Dataset) []*Partial {
	type key struct{ pref, ind string }
	members := map[key][]int{}
	for f, fm := range ds.firms {
		k := key{region.PrefectureOf(fm.Region), fm.Industry}
		members[k] = append(members[k], f)
	}
	byPref := map[string]*Partial{}
	for k, list := range members {
		p := byPref[k.pref]
		if p == nil {
			p = &Partial{Prefecture: k.pref, Start: ds.start, Months: ds.months}
			byPref[k.pref] = p
		}
		pi := PartialIndustry{Industry: k.ind, Changes: make([][]float32, ds.months), Sums: make([]RegionSums, ds.months)}
		for m := range ds.months {
			for _, f := range list {
				if c := changeOf(ds, f, m); !isNaN32(c) {
					pi.Changes[m] = append(pi.Changes[m], c)
				}
				addFirmSums(ds, f, m, &pi.Sums[m])
			}
			slices.Sort(pi.Changes[m])
		}
		p.Industries = append(p.Industries, pi)
	}
	out := make([]*Partial, 0, len(byPref))
	for _, p := range byPref {
		sort.Slice(p.Industries, func(i, j int) bool { return p.Industries[i].Industry < p.Industries[j].Industry })
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Prefecture < out[j].Prefecture })
	return out
}

// addFirmSums adds firm f's month m to s, as group.metrics and
// group.expectation count it for its region.
func addFirmSums(ds *Dataset, f, m int, s *RegionSums) {
	fm := &ds.firms[f]
	if !fm.EnrolledIn(ds.start.Add(m)) {
		return
	}
	s.FirmsExpected++
	cur := ds.rec(f, m)
	if !cur.ok {
		return
	}
	h := float64(cur.h)
	s.FirmsReported++
	s.Headcount += h
	s.Baseline += float64(fm.BaselineHeadcount)
	for k := 1; k <= 3; k++ {
		if r := ds.rec(f, m-k); r.ok {
			prev := float64(r.h)
			s.Loss += max(-(h - prev), 0)
			s.PrevHeadcount += prev
			break
		}
	}
	if r := ds.rec(f, m-1); r.ok {
		s.MoMFirms++
		s.MoMHeadcount += h
		s.MoMPrevHeadcount += float64(r.h)
		if loss := float64(r.h) - h; worseLoss(loss, float64(r.h), s.MoMWorstLoss, s.MoMWorstPrev) {
			s.MoMWorstLoss, s.MoMWorstPrev = loss, float64(r.h)
		}
		s.PanelFirms++
		s.PanelNow += h
		s.PanelPrev += float64(r.h)
	}
}

// PeerSeries is one province-industry peer group over a window: per month
// the median and spread of its firms' changes (NaN with fewer than minPeers)
// and their number.
type PeerSeries struct {
	Med, Spread []float32
	N           []int32
}

// NewPeerSeries merges the changes of a province-industry's prefectures
// (each [month][]c) into its peer group.
func NewPeerSeries(months int, changes ...[][]float32) *PeerSeries {
	ps := &PeerSeries{Med: make([]float32, months), Spread: make([]float32, months), N: make([]int32, months)}
	var vals, scratch []float32
	for m := range months {
		vals = vals[:0]
		for _, c := range changes {
			if m < len(c) {
				vals = append(vals, c[m]...)
			}
		}
		ps.Med[m], ps.Spread[m], ps.N[m], scratch = peerGroup(vals, scratch)
	}
	return ps
}

// Shared is what a replica's share is evaluated with beyond its own firms
// (see the top of this file).
type Shared struct {
	Start  report.Period
	Months int
	// Peers are the province-industry peer groups, by "province/industry",
	// of every province the share has firms in.
	Peers map[string]*PeerSeries
	// Provinces are the sums, per industry and month, of the provinces
	// whose rules this replica evaluates (it owns them): province →
	// industry → month.
	Provinces map[string]map[string][]RegionSums
}

// NewShared builds what a share needs from the partials of every prefecture
// of its provinces; provinces are those the replica owns (their rules it
// evaluates). Every partial must cover the same window.
func NewShared(partials []*Partial, provinces []string) (*Shared, error) {
	if len(partials) == 0 {
		return nil, errors.New("no partials")
	}
	sh := &Shared{Start: partials[0].Start, Months: partials[0].Months, Peers: map[string]*PeerSeries{}, Provinces: map[string]map[string][]RegionSums{}}
	groups := map[string][][][]float32{}
	for _, p := range partials {
		if p.Start != sh.Start || p.Months != sh.Months {
			return nil, fmt.Errorf("partial of %s covers %s + %d months, others %s + %d", p.Prefecture, p.Start, p.Months, sh.Start, sh.Months)
		}
		for _, pi := range p.Industries {
			key := p.Province() + "/" + pi.Industry
			groups[key] = append(groups[key], pi.Changes)
		}
	}
	for key, list := range groups {
		sh.Peers[key] = NewPeerSeries(sh.Months, list...)
	}
	for _, prov := range provinces {
		sh.AddProvince(prov, partials)
	}
	return sh, nil
}

// AddProvince adds the sums of province prov, from the partials of its
// prefectures (others are ignored).
func (sh *Shared) AddProvince(prov string, partials []*Partial) {
	byInd := map[string][]RegionSums{}
	for _, p := range partials {
		if p.Province() != prov {
			continue
		}
		for _, pi := range p.Industries {
			sums := byInd[pi.Industry]
			if sums == nil {
				sums = make([]RegionSums, sh.Months)
				byInd[pi.Industry] = sums
			}
			for m := range sh.Months {
				sums[m].add(pi.Sums[m])
			}
		}
	}
	sh.Provinces[prov] = byInd
}

// peers is the province-industry group key's month m (NaN and 0 when the
// partials know no such group).
func (sh *Shared) peers(key string, m int) (med, spread float32, n int32) {
	ps := sh.Peers[key]
	if ps == nil || m >= len(ps.Med) {
		return nan32, nan32, 0
	}
	return ps.Med[m], ps.Spread[m], ps.N[m]
}

// provinceSums is month m's sums of a province group: the province's
// industry, or all its industries.
func (sh *Shared) provinceSums(prov, industry string, byIndustry bool, m int) RegionSums {
	var s RegionSums
	inds := sh.Provinces[prov]
	if byIndustry {
		if sums := inds[industry]; sums != nil {
			s = sums[m]
		}
		return s
	}
	names := make([]string, 0, len(inds))
	for ind := range inds {
		names = append(names, ind)
	}
	sort.Strings(names)
	for _, ind := range names {
		s.add(inds[ind][m])
	}
	return s
}

// fromSums fills a province group's month m from the shared sums, as
// metrics and expectation do from its firms.
func (g *group) fromSums(s RegionSums, m int) *RegionEnv {
	env := &RegionEnv{Region: g.region, Industry: g.industry,
		FirmsExpected: s.FirmsExpected, FirmsReported: s.FirmsReported, Headcount: s.Headcount, Baseline: s.Baseline,
		Loss: s.Loss, PrevHeadcount: s.PrevHeadcount, MoMFirms: s.MoMFirms, MoMHeadcount: s.MoMHeadcount, MoMPrevHeadcount: s.MoMPrevHeadcount,
		MoMWorstLoss: s.MoMWorstLoss, MoMWorstPrev: s.MoMWorstPrev, PanelFirms: s.PanelFirms}
	g.derive(env, m)
	// a province's firms have no peers one level up: the firm that lost
	// most beyond its peers is the one that lost most
	g.judge(m, env, s.PanelNow, s.PanelPrev, 0, 0, s.MoMWorstLoss, s.MoMWorstPrev-s.MoMWorstLoss, s.MoMWorstPrev)
	return env
}

// CheckSharded reports why the plan cannot be evaluated by a sharded
// detector: a province rule that reads the province's firms (no replica
// holds them all).
func (p *Plan) CheckSharded() error {
	for _, r := range p.Rules {
		if r.Scope == alertevent.ScopeProvince && r.readsFirms {
			return fmt.Errorf("%s: rule %q: a province rule that reads firms (count, any, all, none, sum over firms) cannot be evaluated by a sharded detector, where no replica holds every firm of the province: use the province's own metrics, or run one detect replica", p.File, r.ID)
		}
	}
	return nil
}

// Encoding of a partial's industry for storage (detector_partials): per
// month, the number of changes and each as float32 bits, then the sums as
// float64 bits; little-endian.

// sumFields is the number of a RegionSums' fields, each stored as float64.
const sumFields = 14

// MarshalBinary encodes pi.
func (pi *PartialIndustry) MarshalBinary() ([]byte, error) {
	n := 0
	for _, c := range pi.Changes {
		n += 4 + 4*len(c)
	}
	b := make([]byte, 0, 4+n+len(pi.Sums)*sumFields*8)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(pi.Changes)))
	for _, c := range pi.Changes {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(c)))
		for _, v := range c {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
	}
	for _, s := range pi.Sums {
		for _, v := range [...]float64{s.FirmsExpected, s.FirmsReported, s.Headcount, s.Baseline, s.Loss, s.PrevHeadcount,
			s.MoMFirms, s.MoMHeadcount, s.MoMPrevHeadcount, s.PanelFirms, s.PanelNow, s.PanelPrev, s.MoMWorstLoss, s.MoMWorstPrev} {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		}
	}
	return b, nil
}

// UnmarshalBinary decodes what MarshalBinary encoded (Industry is not in
// it).
func (pi *PartialIndustry) UnmarshalBinary(b []byte) error {
	bad := errors.New("malformed partial")
	u32 := func() (uint32, bool) {
		if len(b) < 4 {
			return 0, false
		}
		v := binary.LittleEndian.Uint32(b)
		b = b[4:]
		return v, true
	}
	months, ok := u32()
	if !ok || months > 1200 {
		return bad
	}
	pi.Changes = make([][]float32, months)
	for m := range pi.Changes {
		n, ok := u32()
		if !ok || uint64(n)*4 > uint64(len(b)) {
			return bad
		}
		if n > 0 {
			pi.Changes[m] = make([]float32, n)
		}
		for i := range pi.Changes[m] {
			v, _ := u32()
			pi.Changes[m][i] = math.Float32frombits(v)
		}
	}
	if len(b) != int(months)*sumFields*8 {
		return bad
	}
	pi.Sums = make([]RegionSums, months)
	for m := range pi.Sums {
		var v [sumFields]float64
		for i := range v {
			v[i] = math.Float64frombits(binary.LittleEndian.Uint64(b))
			b = b[8:]
		}
		pi.Sums[m] = RegionSums{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13]}
	}
	return nil
}

// Hash identifies the partial's content (not when or by whom it was
// computed): a replica that takes a prefecture over and computes the same
// partial publishes the same hash, and nobody re-evaluates.
func (p *Partial) Hash() uint64 {
	h := fnv.New64a()
	var b [8]byte
	put := func(s string) {
		binary.LittleEndian.PutUint64(b[:], uint64(len(s)))
		_, _ = h.Write(b[:]) // a hash does not fail
		_, _ = h.Write([]byte(s))
	}
	put(p.Prefecture)
	binary.LittleEndian.PutUint64(b[:], uint64(p.Start)<<16|uint64(p.Months))
	_, _ = h.Write(b[:])
	for i := range p.Industries {
		put(p.Industries[i].Industry)
		enc, _ := p.Industries[i].MarshalBinary()
		_, _ = h.Write(enc)
	}
	return h.Sum64()
}
