package simulate

import "math"

// rng is a small splitmix64 generator. It is a value type so that a fresh,
// independent stream can be made on the stack for every (firm, period) pair
// without allocating: every random draw of the simulation is a pure function
// of the seed and of the keys that name it, which is what makes the output
// reproducible and lets one firm be replayed alone (see trajectory).
type rng struct{ s uint64 }

// Salts keep the streams used for different purposes apart.
const (
	saltSample uint64 = iota + 1
	saltParams
	saltStep
	saltTime
	saltMissing
	saltRevision
	saltEvents
	saltSeason   // seasonal depth and shift of a (prefecture, profile, year)
	saltFirmYear // a firm's own seasonal depth in a year
	saltCommon   // moves shared by a prefecture or an industry
	saltShock    // non-layoff shocks
	saltSmall    // small layoffs below the art. 41 line
	saltError    // gross reporting errors
	saltGap      // runs of missing reports
	saltLate     // when late corrections are sent
)

// fmix is the murmur3 64-bit finaliser: a cheap, well-mixed hash step.
func fmix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// key hashes the seed and three keys into one 64-bit value.
func key(seed int64, a, b, salt uint64) uint64 {
	h := fmix(uint64(seed) ^ 0x9e3779b97f4a7c15)
	h = fmix(h ^ (a+1)*0xbf58476d1ce4e5b9)
	h = fmix(h ^ (b+1)*0x94d049bb133111eb)
	return fmix(h ^ salt*0x2545f4914f6cdd1d)
}

// newRNG returns a stream named by the seed and three keys.
func newRNG(seed int64, a, b, salt uint64) rng { return rng{s: key(seed, a, b, salt)} }

// unit maps a hash to [0, 1).
func unit(h uint64) float64 { return float64(h>>11) * 0x1p-53 }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// float returns a uniform number in [0, 1).
func (r *rng) float() float64 { return unit(r.next()) }

// between returns a uniform number in [lo, hi).
func (r *rng) between(lo, hi float64) float64 { return lo + (hi-lo)*r.float() }

// intn returns a number in [0, n); n must be positive. The modulo bias is
// below 2^-40 for the sizes used here.
func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

// normal returns a standard normal number (Box–Muller).
func (r *rng) normal() float64 {
	u1 := 1 - r.float() // (0, 1]: log is finite
	u2 := r.float()
	return math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
}

// gamma returns a Gamma(shape, 1) number (Marsaglia and Tsang 2000; for
// shape < 1, Gamma(shape+1)·U^(1/shape)).
func (r *rng) gamma(shape float64) float64 {
	if shape < 1 {
		return r.gamma(shape+1) * math.Pow(1-r.float(), 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.normal()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := 1 - r.float()
		if math.Log(u) < 0.5*x*x+d-d*v+d*math.Log(v) {
			return d * v
		}
	}
}

// studentT returns a Student-t number with df degrees of freedom: a normal
// over the root of an independent chi-square divided by df.
func (r *rng) studentT(df float64) float64 {
	z := r.normal()
	chi2 := 2 * r.gamma(df/2)
	return z / math.Sqrt(max(chi2/df, 1e-12))
}

// poisson returns a Poisson count with the given mean: Knuth's product
// method for small means, a rounded normal for large ones.
func (r *rng) poisson(mean float64) int {
	if mean <= 0 {
		return 0
	}
	if mean < 30 {
		limit := math.Exp(-mean)
		k, prod := 0, r.float()
		for prod > limit {
			k++
			prod *= r.float()
		}
		return k
	}
	v := math.Round(mean + math.Sqrt(mean)*r.normal())
	if v < 0 {
		return 0
	}
	return int(v)
}

// shuffle permutes n items with swap (Fisher–Yates).
func (r *rng) shuffle(n int, swap func(i, j int)) {
	for i := n - 1; i > 0; i-- {
		swap(i, r.intn(i+1))
	}
}

func clamp(v, lo, hi float64) float64 { return max(lo, min(hi, v)) }
