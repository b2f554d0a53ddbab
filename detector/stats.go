package detector

import (
	"math"
	"slices"

	"github.com/layoffwatch/layoffwatch/internal/region"
)

// The statistics behind "abnormal" (docs/risk-plans.md explains them with
// their formulas). For a firm f and month t, with H its headcount:
//
//	c(t)  = ln(H(t)+1) − ln(H(t−1)+1)        the month's change (both reported)
//	P(t)  = median of c(t) over f's peers      firms of f's industry in its
//	        prefecture (at least minPeers reporting both months), else in its
//	        province; S(t) their spread, 1.4826 × MAD
//	D(t)  = f's usual gap to its peers in this calendar month: the gaps
//	        c − P of the same month of earlier years (at least 2; of 2 the
//	        one nearer 0, of more the median; 0 with fewer)
//	E(t)  = P(t) + D(t)                        the expected change, with peers
//	      = the firm's own seasonal expectation otherwise: the median change of
//	        the same calendar month of earlier years (at least 2), from the
//	        month before, the month itself or the month after — whichever is
//	        nearest this year's change (a season a month early or late)
//	r(t)  = c(t) − E(t)                        the residual
//	σ(t)  = 1.4826 × MAD of r over the 24 months before t (at least 8
//	        residuals), else S(t); at least sigmaFloor
//	z(t)  = (c_k − ΣE − k·median r) / (σ √k)   the robust z-score of the change
//	        from prev, k = 1…3 months back
//
// A seasonal dip is shared by the peers (P falls with it) or repeats the
// firm's earlier years (D, or the own seasonal expectation, carries it); a
// layoff is neither. A new firm is judged against its peers from its second
// report, never on its own two data points.
//
// Regions are judged the same way one level up: a county's expected change is
// its firms' peer medians (the prefecture's industries), a prefecture's the
// province's industries, weighted by headcount; the province's its own
// seasonal history.
const (
	minPeers    = 6     // firms reporting both months for a peer group to count
	volWindow   = 24    // months of residuals behind σ
	minResidual = 8     // residuals needed for σ (else the peers' spread)
	sigmaFloor  = 0.005 // σ never below 0.5% a month (a very steady firm)
	regionFloor = 0.002 // a region's σ never below 0.2% a month
	maxYears    = 3     // earlier years a seasonal expectation looks at
	// seasonDepth is how uncertain an expected seasonal move is, as a share
	// of it: a season's depth varies by firm and by year, so a fall 30%
	// deeper than the peers' −40% is not alarming, while the same 12% in a
	// quiet month is
	seasonDepth = 0.3
	regionDepth = 0.15 // the same for a region: its firms' variations average out
	// offSeason: a peer median moving less than this is no season; a firm
	// without 2 years of history is compared with its peers only then
	offSeason = 0.03
	clipZ     = 3 // one firm weighs at most this much in a region's firms_z
)

var nan32 = float32(math.NaN())

func isNaN32(v float32) bool { return v != v }

// firmStats holds, for every firm and month of one evaluation, the series
// the statistics need (month-major, as the dataset: [m*nf+f]); firms'
// z-scores are computed from them on demand (FirmEnv's accessors).
type firmStats struct {
	nf, months int
	chg        []float32 // c, NaN when the firm did not report both months
	expct      []float32 // E, NaN when there is no expectation
	resid      []float32 // r, NaN when either is missing
	peer       []float32 // P of the firm's peer group, NaN without peers
	expPeer    []float32 // e^P, for the regions' expected change
	// rB: the change against the firm's province-industry peers and its usual
	// gap to them this calendar month (NaN without 2 years of gaps): what the
	// breadth of a region's fall is counted on
	residB []float32
	// peer groups: by (prefecture, industry) and (province, industry)
	grpA, grpB []int32
	medA, medB [][]float32 // group → month → median change (NaN: fewer than minPeers)
	expMedB    [][]float32 // group → month → e^medB
	sprA, sprB [][]float32 // group → month → spread
	nA, nB     [][]int32   // group → month → firms with a change
	bufA, bufB [][]float32 // scratch, per group
	scratch    []float32
	// shared: a replica's share of a sharded detector takes the
	// province-industry groups (B) from every prefecture's partial
	// (share.go) instead of its own firms; keyB names them
	shared *Shared
	keyB   []string
}

func newFirmStats(ds *Dataset, shared *Shared) *firmStats {
	nf, months := len(ds.firms), ds.months
	st := &firmStats{nf: nf, months: months,
		chg: make([]float32, nf*months), expct: make([]float32, nf*months), resid: make([]float32, nf*months),
		peer: make([]float32, nf*months), expPeer: make([]float32, nf*months), residB: make([]float32, nf*months), grpA: make([]int32, nf), grpB: make([]int32, nf)}
	idxA, idxB := map[string]int32{}, map[string]int32{}
	for f, fm := range ds.firms {
		a := region.PrefectureOf(fm.Region) + "/" + fm.Industry
		b := region.ProvinceOf(fm.Region) + "/" + fm.Industry
		if _, ok := idxA[a]; !ok {
			idxA[a] = int32(len(idxA))
		}
		if _, ok := idxB[b]; !ok {
			idxB[b] = int32(len(idxB))
		}
		st.grpA[f], st.grpB[f] = idxA[a], idxB[b]
	}
	alloc := func(n int) ([][]float32, [][]float32, [][]int32, [][]float32) {
		med, spr, cnt, buf := make([][]float32, n), make([][]float32, n), make([][]int32, n), make([][]float32, n)
		for g := range n {
			med[g], spr[g], cnt[g] = make([]float32, months), make([]float32, months), make([]int32, months)
		}
		return med, spr, cnt, buf
	}
	st.medA, st.sprA, st.nA, st.bufA = alloc(len(idxA))
	st.medB, st.sprB, st.nB, st.bufB = alloc(len(idxB))
	st.shared, st.keyB = shared, make([]string, len(idxB))
	for k, g := range idxB {
		st.keyB[g] = k
	}
	st.expMedB = make([][]float32, len(idxB))
	for g := range st.expMedB {
		st.expMedB[g] = make([]float32, months)
	}
	return st
}

// changes computes c for firms lo…hi of month index m.
func (st *firmStats) changes(ds *Dataset, m, lo, hi int) {
	row := st.chg[m*st.nf : (m+1)*st.nf]
	for f := lo; f < hi; f++ {
		row[f] = changeOf(ds, f, m)
	}
}

// changeOf is c for firm f in month index m: NaN unless it reported m−1
// and m.
func changeOf(ds *Dataset, f, m int) float32 {
	cur, prev := ds.rec(f, m), ds.rec(f, m-1)
	if cur.ok && prev.ok {
		return float32(math.Log(float64(cur.h)+1) - math.Log(float64(prev.h)+1))
	}
	return nan32
}

// peers computes the peer groups' medians and spreads for month index m
// (after changes for every firm), and each firm's P.
func (st *firmStats) peers(m int) {
	row := st.chg[m*st.nf : (m+1)*st.nf]
	for g := range st.bufA {
		st.bufA[g] = st.bufA[g][:0]
	}
	for g := range st.bufB {
		st.bufB[g] = st.bufB[g][:0]
	}
	for f, c := range row {
		if isNaN32(c) {
			continue
		}
		st.bufA[st.grpA[f]] = append(st.bufA[st.grpA[f]], c)
		st.bufB[st.grpB[f]] = append(st.bufB[st.grpB[f]], c)
	}
	summarise := func(buf [][]float32, med, spr [][]float32, cnt [][]int32) {
		for g, vals := range buf {
			med[g][m], spr[g][m], cnt[g][m], st.scratch = peerGroup(vals, st.scratch)
		}
	}
	summarise(st.bufA, st.medA, st.sprA, st.nA)
	if st.shared == nil {
		summarise(st.bufB, st.medB, st.sprB, st.nB)
	} else {
		for g, key := range st.keyB {
			st.medB[g][m], st.sprB[g][m], st.nB[g][m] = st.shared.peers(key, m)
		}
	}
	for g := range st.medB {
		st.expMedB[g][m] = exp32(st.medB[g][m])
	}
	prow, erow := st.peer[m*st.nf:(m+1)*st.nf], st.expPeer[m*st.nf:(m+1)*st.nf]
	for f := range prow {
		prow[f], _, _ = st.peerOf(f, m)
		erow[f] = exp32(prow[f])
	}
}

// peerGroup is a peer group's month from its firms' changes (reordered):
// their median, spread (1.4826 × MAD) and number, the median and spread NaN
// with fewer than minPeers. scratch is reused and returned.
func peerGroup(vals, scratch []float32) (med, spread float32, n int32, _ []float32) {
	n = int32(len(vals))
	if len(vals) < minPeers {
		return nan32, nan32, n, scratch
	}
	md := median32(vals)
	scratch = scratch[:0]
	for _, v := range vals {
		scratch = append(scratch, abs32(v-md))
	}
	return md, 1.4826 * median32(scratch), n, scratch
}

// peerOf is firm f's peer median, spread and number of peers in month m:
// its prefecture's industry, else its province's.
func (st *firmStats) peerOf(f, m int) (med, spread float32, n int32) {
	if m < 0 {
		return nan32, nan32, 0
	}
	a, b := st.grpA[f], st.grpB[f]
	if md := st.medA[a][m]; !isNaN32(md) {
		return md, st.sprA[a][m], st.nA[a][m]
	}
	return st.medB[b][m], st.sprB[b][m], st.nB[b][m]
}

// expectation computes E and r of firms lo…hi for month index m (after
// peers).
func (st *firmStats) expectation(m, lo, hi int) {
	nf := st.nf
	for f := lo; f < hi; f++ {
		i := m*nf + f
		c := st.chg[i]
		var e float32
		if p := st.peer[i]; !isNaN32(p) {
			var gaps [maxYears]float32
			n := 0
			for y := 1; y <= maxYears && m-12*y >= 0; y++ {
				j := (m-12*y)*nf + f
				if cc, pp := st.chg[j], st.peer[j]; !isNaN32(cc) && !isNaN32(pp) {
					gaps[n] = cc - pp
					n++
				}
			}
			e = p + typical(gaps[:n])
		} else {
			e = st.ownSeasonal(f, m, c)
		}
		st.expct[i] = e
		if isNaN32(c) || isNaN32(e) {
			st.resid[i] = nan32
		} else {
			st.resid[i] = c - e
		}
		st.residB[i] = st.provinceResidual(f, m, c)
	}
}

// provinceResidual is c against the firm's province-industry peers and its
// usual gap to them in this calendar month (at least 2 earlier years), NaN
// otherwise.
func (st *firmStats) provinceResidual(f, m int, c float32) float32 {
	b := st.grpB[f]
	p := st.medB[b][m]
	if isNaN32(c) || isNaN32(p) {
		return nan32
	}
	var gaps [maxYears]float32
	n := 0
	for y := 1; y <= maxYears && m-12*y >= 0; y++ {
		j := m - 12*y
		if cc, pp := st.chg[j*st.nf+f], st.medB[b][j]; !isNaN32(cc) && !isNaN32(pp) {
			gaps[n] = cc - pp
			n++
		}
	}
	if n < 2 {
		// no usual gap yet: only off season, when a firm's depth cannot
		// differ much from its peers'
		if abs32(p) >= offSeason {
			return nan32
		}
		return c - p
	}
	return c - p - typical(gaps[:n])
}

// ownSeasonal is the firm's own seasonal expectation of month m's change:
// the median change of the same calendar month in earlier years (at least
// 2), taken from the month before, the month or the month after, whichever
// is nearest c (when c is known).
func (st *firmStats) ownSeasonal(f, m int, c float32) float32 {
	best, bestD := nan32, float32(math.Inf(1))
	for _, k := range [3]int{0, -1, 1} {
		var vals [maxYears]float32
		n := 0
		for y := 1; y <= maxYears; y++ {
			j := m - 12*y + k
			if j < 1 || j >= st.months || j >= m {
				continue
			}
			if v := st.chg[j*st.nf+f]; !isNaN32(v) {
				vals[n] = v
				n++
			}
		}
		if n < 2 {
			continue
		}
		s := median32(vals[:n])
		if isNaN32(c) {
			if k == 0 {
				return s
			}
			continue
		}
		if d := abs32(c - s); d < bestD {
			best, bestD = s, d
		}
	}
	return best
}

// typical is the usual value of a few years' values: 0 with fewer than 2,
// of 2 the one nearer 0 (one of them may be a past layoff), else the median.
func typical(v []float32) float32 {
	switch len(v) {
	case 0, 1:
		return 0
	case 2:
		if abs32(v[0]) < abs32(v[1]) {
			return v[0]
		}
		return v[1]
	}
	return median32(v)
}

// change is firm f's change into month m from k months back (1…3) against
// the expected change over those months: the log change c, the expected
// log change ΣE, and ok false when either is missing. Cheap: no scale.
func (st *firmStats) change(ds *Dataset, f, m, k int) (c, sumE float64, ok bool) {
	cur, base := ds.rec(f, m), ds.rec(f, m-k)
	if !cur.ok || !base.ok || m-k < 0 {
		return 0, 0, false
	}
	for j := m - k + 1; j <= m; j++ {
		e := st.expct[j*st.nf+f]
		if isNaN32(e) {
			return 0, 0, false
		}
		sumE += float64(e)
	}
	return math.Log(float64(cur.h)+1) - math.Log(float64(base.h)+1), sumE, true
}

// zscore is the robust z-score of a change c over k months against its
// expected change sumE, with firm f's scale and drift at month m; ok false
// without a scale.
func (st *firmStats) zscore(f, m, k int, c, sumE float64) (z, sigma float64, ok bool) {
	sigma, drift, ok := st.scale(f, m)
	if !ok {
		return 0, 0, false
	}
	kk := float64(k)
	return (c - sumE - kk*drift) / math.Hypot(sigma*math.Sqrt(kk), seasonDepth*sumE), sigma, true
}

// scale is firm f's σ and drift (the median residual) for month m: from its
// residuals of the 24 months before, else its peers' spread this month.
func (st *firmStats) scale(f, m int) (sigma, drift float64, ok bool) {
	var buf [volWindow]float32
	vals := buf[:0]
	for j := max(1, m-volWindow); j < m; j++ {
		if r := st.resid[j*st.nf+f]; !isNaN32(r) {
			vals = append(vals, r)
		}
	}
	if len(vals) >= minResidual {
		md := median32(vals)
		for i := range vals {
			vals[i] = abs32(vals[i] - md)
		}
		return max(1.4826*float64(median32(vals)), sigmaFloor), float64(md), true
	}
	if _, spread, n := st.peerOf(f, m); n >= minPeers && !isNaN32(spread) {
		return max(float64(spread), sigmaFloor), 0, true
	}
	return 0, 0, false
}

// exp32 is e^v (NaN stays NaN).
func exp32(v float32) float32 {
	if isNaN32(v) {
		return nan32
	}
	return float32(math.Exp(float64(v)))
}

func abs32(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}

// median32 is the median of v, which it reorders.
func median32(v []float32) float32 {
	n := len(v)
	if n == 0 {
		return nan32
	}
	if n <= 16 {
		slices.Sort(v)
		if n%2 == 1 {
			return v[n/2]
		}
		return (v[n/2-1] + v[n/2]) / 2
	}
	hi := selectK(v, n/2)
	if n%2 == 1 {
		return hi
	}
	lo := v[0]
	for _, x := range v[:n/2] {
		lo = max(lo, x)
	}
	return (lo + hi) / 2
}

// selectK reorders v so that v[k] is the k-th smallest, every value before
// it no larger and every value after it no smaller (quickselect), and
// returns v[k].
func selectK(v []float32, k int) float32 {
	lo, hi := 0, len(v)-1
	for lo < hi {
		// median of three as the pivot
		mid := lo + (hi-lo)/2
		if v[mid] < v[lo] {
			v[mid], v[lo] = v[lo], v[mid]
		}
		if v[hi] < v[lo] {
			v[hi], v[lo] = v[lo], v[hi]
		}
		if v[hi] < v[mid] {
			v[hi], v[mid] = v[mid], v[hi]
		}
		pivot := v[mid]
		i, j := lo, hi
		for i <= j {
			for v[i] < pivot {
				i++
			}
			for v[j] > pivot {
				j--
			}
			if i <= j {
				v[i], v[j] = v[j], v[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return v[k]
		}
	}
	return v[k]
}

// firmLazy are the statistics of a firm's month that cost more than a field
// read; FirmEnv computes them on first read (most conditions never get past
// a cheaper test before them).
type firmLazy struct {
	st   *firmStats
	ds   *Dataset
	f, m int
	done uint8
	// against the expectation: the change and its expectation (cheap), then
	// the z-scores (they need the scale), for the month and three months
	c, sumE, c3, sumE3 float64
	cOK, c3OK          bool
	expected, excess   float64
	expected3, excess3 float64
	z, z3, sigma       float64
	zOK, z3OK          bool
	// separations
	usualSeps float64
}

const (
	lazyChange uint8 = 1 << iota
	lazyChange3
	lazyZ
	lazyZ3
	lazySeps
)

// changeStats is the month's change against the expectation (no scale).
func (e *FirmEnv) changeStats() *firmLazy {
	l := &e.lazy
	if l.done&lazyChange == 0 {
		l.done |= lazyChange
		if l.st != nil && e.HasPrev {
			l.c, l.sumE, l.cOK = l.st.change(l.ds, l.f, l.m, int(e.PrevGap))
			if l.cOK {
				l.expected, l.excess = math.Expm1(l.sumE), math.Exp(l.sumE)-math.Exp(l.c)
			}
		}
	}
	return l
}

func (e *FirmEnv) change3Stats() *firmLazy {
	l := &e.lazy
	if l.done&lazyChange3 == 0 {
		l.done |= lazyChange3
		if l.st != nil && e.Has3m {
			l.c3, l.sumE3, l.c3OK = l.st.change(l.ds, l.f, l.m, 3)
			if l.c3OK {
				l.expected3, l.excess3 = math.Expm1(l.sumE3), math.Exp(l.sumE3)-math.Exp(l.c3)
			}
		}
	}
	return l
}

func (e *FirmEnv) zStats() *firmLazy {
	l := e.changeStats()
	if l.done&lazyZ == 0 {
		l.done |= lazyZ
		if l.cOK {
			l.z, l.sigma, l.zOK = l.st.zscore(l.f, l.m, int(e.PrevGap), l.c, l.sumE)
		}
	}
	return l
}

func (e *FirmEnv) z3Stats() *firmLazy {
	l := e.change3Stats()
	if l.done&lazyZ3 == 0 {
		l.done |= lazyZ3
		if l.c3OK {
			l.z3, _, l.z3OK = l.st.zscore(l.f, l.m, 3, l.c3, l.sumE3)
		}
	}
	return l
}

// usualSeparations is the median of the firm's monthly separations over its
// reports of the 12 months before (0 without any).
func (e *FirmEnv) usualSeparations() float64 {
	l := &e.lazy
	if l.done&lazySeps == 0 {
		l.done |= lazySeps
		if l.ds != nil {
			var buf [12]float32
			v := buf[:0]
			for j := l.m - 12; j < l.m; j++ {
				if r := l.ds.rec(l.f, j); r.ok {
					var total uint32
					for _, s := range r.sep {
						total += s
					}
					v = append(v, float32(total))
				}
			}
			if len(v) > 0 {
				l.usualSeps = float64(median32(v))
			}
		}
	}
	return l.usualSeps
}

// peerStats is the firm's peers' median change (a rate), their number, and
// the firm's change against them in their spreads (0 when undefined).
func (e *FirmEnv) peerStats() (rate float64, n int32, z float64) {
	l := &e.lazy
	if l.st == nil {
		return 0, 0, 0
	}
	med, spread, n := l.st.peerOf(l.f, l.m)
	if isNaN32(med) {
		return 0, n, 0
	}
	rate = math.Expm1(float64(med))
	if c := l.st.chg[l.m*l.st.nf+l.f]; !isNaN32(c) {
		z = float64(c-med) / max(float64(spread), sigmaFloor)
	}
	return rate, n, z
}

// regionStats are a region's series, one value per month of the
// evaluation: its change over the firms reporting both months, its
// expectation and the residual.
type regionStats struct {
	c, p, e, r         []float64 // p: the expectation from peers one level up
	cOK, pOK, eOK, rOK []bool
	// firms_z: the clipped sum of the firms' scores, and the firms counted
	score   []float64
	counted []int
	// dw: the panel's log-change without the firm that lost most beyond
	// its expectation, minus the panel's (0 when no firm lost)
	dw []float64
}

func newRegionStats(months int) *regionStats {
	return &regionStats{c: make([]float64, months), p: make([]float64, months), e: make([]float64, months), r: make([]float64, months),
		cOK: make([]bool, months), pOK: make([]bool, months), eOK: make([]bool, months), rOK: make([]bool, months),
		score: make([]float64, months), counted: make([]int, months), dw: make([]float64, months)}
}

// firms records month m's firm scores — the sum of the region's firms'
// changes against their peers, each in its peers' spreads and clipped at
// ±clipZ, and how many firms — and sets firms_z (Stouffer's sum, /√n) for
// the month and for three months, and the breadth (the share below).
func (rs *regionStats) firms(m int, sum float64, n, below int, env *RegionEnv) {
	rs.score[m], rs.counted[m] = sum, n
	if n < minPeers {
		return
	}
	env.FirmsZDefined, env.FirmsZ, env.Breadth = true, -sum/math.Sqrt(float64(n)), float64(below)/float64(n)
	if m >= 2 && rs.counted[m-1] >= minPeers && rs.counted[m-2] >= minPeers {
		total, cnt := rs.score[m]+rs.score[m-1]+rs.score[m-2], rs.counted[m]+rs.counted[m-1]+rs.counted[m-2]
		env.FirmsZ3Defined, env.FirmsZ3 = true, -total/math.Sqrt(float64(cnt))
	}
}

// regionMonth computes the region's change, expectation, residual and
// z-scores for month index m. ePeer is the expectation from peers one level
// up (ok false: none, as for a province).
func (rs *regionStats) month(m int, c float64, cOK bool, ePeer float64, peerOK bool, env *RegionEnv) {
	rs.c[m], rs.cOK[m] = c, cOK
	rs.p[m], rs.pOK[m] = ePeer, peerOK
	var e float64
	eOK := false
	if peerOK {
		var gaps [maxYears]float32
		n := 0
		for y := 1; y <= maxYears && m-12*y >= 0; y++ {
			j := m - 12*y
			if rs.cOK[j] && rs.pOK[j] {
				gaps[n] = float32(rs.c[j] - rs.p[j])
				n++
			}
		}
		e, eOK = ePeer+float64(typical(gaps[:n])), true
	} else {
		best, bestD := 0.0, math.Inf(1)
		for _, k := range [3]int{0, -1, 1} {
			var vals [maxYears]float32
			n := 0
			for y := 1; y <= maxYears; y++ {
				j := m - 12*y + k
				if j >= 1 && j < m && rs.cOK[j] {
					vals[n] = float32(rs.c[j])
					n++
				}
			}
			if n < 2 {
				continue
			}
			s := float64(median32(vals[:n]))
			if !cOK {
				if k == 0 {
					best, bestD = s, 0
				}
				continue
			}
			if d := math.Abs(c - s); d < bestD {
				best, bestD = s, d
			}
		}
		e, eOK = best, !math.IsInf(bestD, 1)
	}
	rs.e[m], rs.eOK[m] = e, eOK
	rs.r[m], rs.rOK[m] = c-e, cOK && eOK
	env.ExpectedRate = math.Expm1(e)
	if !rs.rOK[m] {
		return
	}
	var buf [volWindow]float32
	vals := buf[:0]
	for j := max(1, m-volWindow); j < m; j++ {
		if rs.rOK[j] {
			vals = append(vals, float32(rs.r[j]))
		}
	}
	if len(vals) < minResidual {
		return
	}
	drift := float64(median32(vals))
	for i := range vals {
		vals[i] = float32(math.Abs(float64(vals[i]) - drift))
	}
	sigma := max(1.4826*float64(median32(vals)), regionFloor)
	env.ZDefined, env.Z, env.Sigma = true, (rs.r[m]-drift)/math.Hypot(sigma, regionDepth*e), sigma
	env.ExcessRate = math.Exp(e) - math.Exp(c)
	env.ExcessLoss = env.PanelPrevHeadcount * env.ExcessRate
	// three months
	if m >= 3 && rs.cOK[m-1] && rs.cOK[m-2] && rs.eOK[m-1] && rs.eOK[m-2] {
		c3 := rs.c[m] + rs.c[m-1] + rs.c[m-2]
		e3 := rs.e[m] + rs.e[m-1] + rs.e[m-2]
		env.Z3Defined, env.Z3 = true, (c3-e3-3*drift)/math.Hypot(sigma*math.Sqrt(3), regionDepth*e3)
		env.ExcessRate3 = math.Exp(e3) - math.Exp(c3)
	}
}

// layoffSeparations3 sums the separations the law counts as economic
// layoffs over the reports of t−2, t−1 and t.
func (e *FirmEnv) layoffSeparations3() float64 {
	l := &e.lazy
	if l.ds == nil {
		return e.LayoffSeparations
	}
	sum := e.LayoffSeparations
	for j := l.m - 2; j < l.m; j++ {
		if r := l.ds.rec(l.f, j); r.ok {
			sum += float64(r.sep[0] + r.sep[1] + r.sep[2])
		}
	}
	return sum
}

// Unusual separations: what a firm reports leaving for each reason beyond
// what it usually reports for that reason. A layoff disguised as contract
// ends, negotiated terminations ("other") or resignations shows as a reason
// the firm seldom uses running far above its habit; a seasonal stop shows
// as the contract ends the firm reports every year in those months.
const (
	unusualHistory = 6 // reports among the 12 months before t to judge a firm's habit
	unusualYears   = 3 // earlier years for a reason's seasonal habit
)

// separationBounds is, for each reason, the most separations the firm's
// habit explains in month m: U + 2√U, U its usual count for the reason —
// the larger of its median over the reports of the 12 months before m and
// its seasonal habit: its largest count in the same calendar month or the
// month either side (a season a month early or late) in each of the
// earlier years whose three months lie in the dataset, at least 2 of them
// (of 2 the smaller, of 3 the median: one past layoff is not a habit);
// 2√U is what a count of mean U varies by in ordinary months (Poisson). ok is false without a report for m or with fewer than 6
// reports in the 12 months before (no habit to judge by). Only the reasons
// from … to−1 (indexes in report.SeparationReasons) with separations in m
// are computed.
func separationBounds(ds *Dataset, f, m, from, to int) (bound [8]float64, ok bool) {
	if !separationsHabitDefined(ds, f, m) {
		return bound, false
	}
	cur := ds.rec(f, m)
	var buf [12]float32
	for k := from; k < to; k++ {
		if cur.sep[k] == 0 {
			continue
		}
		recent := buf[:0]
		for j := m - 12; j < m; j++ {
			if r := ds.rec(f, j); r.ok {
				recent = append(recent, float32(r.sep[k]))
			}
		}
		usual := float64(median32(recent))
		var yearBuf [unusualYears]float32
		years := yearBuf[:0]
		for y := 1; y <= unusualYears && m-12*y-1 >= 0; y++ {
			top, seen := uint32(0), false
			for j := m - 12*y - 1; j <= m-12*y+1; j++ {
				if r := ds.rec(f, j); r.ok {
					top, seen = max(top, r.sep[k]), true
				}
			}
			if seen {
				years = append(years, float32(top))
			}
		}
		switch len(years) {
		case 1: // all there is to go by
			usual = max(usual, float64(years[0]))
		case 2: // the smaller: one past layoff among two years is not a habit
			usual = max(usual, float64(min(years[0], years[1])))
		case 3:
			usual = max(usual, float64(median32(years)))
		}
		bound[k] = usual + 2*math.Sqrt(usual)
	}
	return bound, true
}

// separationsHabitDefined reports whether the firm has a habit to judge
// month m's separations by: a report for m and 6 in the 12 months before.
func separationsHabitDefined(ds *Dataset, f, m int) bool {
	if !ds.rec(f, m).ok {
		return false
	}
	n := 0
	for j := m - 12; j < m; j++ {
		if ds.rec(f, j).ok {
			n++
		}
	}
	return n >= unusualHistory
}

// unusualSeparations is Σ over reasons of max(0, s − bound): the month's
// separations beyond what the firm's habit explains (separationBounds); 0
// when there is no habit to judge by.
func unusualSeparations(ds *Dataset, f, m int) float64 {
	bound, ok := separationBounds(ds, f, m, 0, 8)
	if !ok {
		return 0
	}
	var total float64
	for k, s := range ds.rec(f, m).sep {
		total += max(float64(s)-bound[k], 0)
	}
	return total
}

// habitualLayoffSeparations is the part of the month's layoff separations
// (economic layoff, closure or bankruptcy, suspension) that the firm's habit
// for those reasons explains: Σ min(s, bound) over the three; 0 when there
// is no habit to judge by.
func habitualLayoffSeparations(ds *Dataset, f, m int) float64 {
	if r := ds.rec(f, m); !r.ok || r.sep[0]+r.sep[1]+r.sep[2] == 0 {
		return 0 // the common case: no reported layoffs
	}
	bound, ok := separationBounds(ds, f, m, 0, 3)
	if !ok {
		return 0
	}
	var total float64
	for k, s := range ds.rec(f, m).sep[:3] {
		total += min(float64(s), bound[k])
	}
	return total
}

// ofMonth is a per-month statistic (unusualSeparations,
// habitualLayoffSeparations) for the firm's month t; 0 without a dataset.
func (e *FirmEnv) ofMonth(stat func(ds *Dataset, f, m int) float64) float64 {
	l := &e.lazy
	if l.ds == nil {
		return 0
	}
	return stat(l.ds, l.f, l.m)
}

// ofMonths3 sums a per-month statistic over t−2, t−1 and t, each month
// against its own past (unusual_separations3, habitual_layoff_separations3).
func (e *FirmEnv) ofMonths3(stat func(ds *Dataset, f, m int) float64) float64 {
	l := &e.lazy
	if l.ds == nil {
		return 0
	}
	var sum float64
	for j := l.m - 2; j <= l.m; j++ {
		sum += stat(l.ds, l.f, j)
	}
	return sum
}

// largestShare3 is the share of the loss t−3 → t held by its worst month.
func (e *FirmEnv) largestShare3() float64 {
	l := &e.lazy
	if l.ds == nil || !e.Reported {
		return 0
	}
	var h [4]float64
	for k := range 4 {
		r := l.ds.rec(l.f, l.m-3+k)
		if !r.ok {
			return 0
		}
		h[k] = float64(r.h)
	}
	total := h[0] - h[3]
	if total <= 0 {
		return 0
	}
	worst := max(h[0]-h[1], h[1]-h[2], h[2]-h[3], 0)
	return min(worst/total, 1)
}

// residA is the firm's residual against its own peers (its prefecture's
// industry, or its province's) and their spread, for a county's firms_z: the
// residual when the firm has 2 years of history or its peers are off
// season, else NaN.
func (st *firmStats) residA(f, m int) (r, spread float32) {
	i := m*st.nf + f
	r = st.resid[i]
	p, spread, _ := st.peerOf(f, m)
	if isNaN32(r) || isNaN32(p) {
		return nan32, nan32
	}
	if abs32(p) >= offSeason {
		years := 0
		for y := 1; y <= maxYears && m-12*y >= 0; y++ {
			j := (m-12*y)*st.nf + f
			if !isNaN32(st.chg[j]) && !isNaN32(st.peer[j]) {
				years++
			}
		}
		if years < 2 {
			return nan32, nan32
		}
	}
	return r, spread
}
