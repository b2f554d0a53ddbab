// Package realdata turns real public employment series (monthly, not
// seasonally adjusted) into a province layoffwatch can evaluate a plan on:
// one firm per series, scaled to a firm of a given size, with labels for the
// known real shocks (strikes, closures, April 2020) and the recessions.
// `make bench-quality` uses it so that a plan is judged on data no
// simulator wrote.
//
// It reads the series as CSV `series_id,industry,period,value`; helpers read
// the two sources the benchmark installs: the FRED extract in Debian's
// gretl-data package (fedstl.idx/.bin) and, where a copy is at hand, the
// BLS CES file of the fpp3 textbook's data (US_employment_fpp3_Monthly.txt).
// It ships no data.
package realdata

import (
	"bufio"
	"encoding/binary"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/layoffwatch/layoffwatch/internal/report"
)

// Series is one monthly series.
type Series struct {
	ID, Title string
	Start     report.Period
	Values    []float64 // NaN: missing
}

// Value returns the value of p (NaN when outside or missing).
func (s *Series) Value(p report.Period) float64 {
	i := int(p - s.Start)
	if i < 0 || i >= len(s.Values) {
		return math.NaN()
	}
	return s.Values[i]
}

// End is the last month.
func (s *Series) End() report.Period { return s.Start.Add(len(s.Values) - 1) }

// ReadCSV reads `series_id,industry,period,value` (a header line first).
func ReadCSV(r io.Reader) ([]*Series, error) {
	cr := csv.NewReader(r)
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("series csv: %w", err)
	}
	if strings.Join(head, ",") != "series_id,industry,period,value" {
		return nil, fmt.Errorf("series csv: header must be series_id,industry,period,value, got %q", strings.Join(head, ","))
	}
	b := newBuilder()
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("series csv: %w", err)
		}
		p, err := report.ParsePeriod(rec[2])
		if err != nil {
			return nil, fmt.Errorf("series csv line %d: %w", line, err)
		}
		v, err := strconv.ParseFloat(rec[3], 64)
		if err != nil || v < 0 || math.IsInf(v, 0) {
			return nil, fmt.Errorf("series csv line %d: value %q is not a non-negative number", line, rec[3])
		}
		b.add(rec[0], rec[1], p, v)
	}
	return b.done(), nil
}

type builder struct {
	byID  map[string]map[report.Period]float64
	title map[string]string
}

func newBuilder() *builder {
	return &builder{byID: map[string]map[report.Period]float64{}, title: map[string]string{}}
}

func (b *builder) add(id, title string, p report.Period, v float64) {
	if b.byID[id] == nil {
		b.byID[id] = map[report.Period]float64{}
	}
	b.byID[id][p] = v
	if title != "" {
		b.title[id] = title
	}
}

func (b *builder) done() []*Series {
	var out []*Series
	for id, vals := range b.byID {
		lo, hi := report.Period(math.MaxInt32), report.Period(0)
		for p := range vals {
			lo, hi = min(lo, p), max(hi, p)
		}
		s := &Series{ID: id, Title: b.title[id], Start: lo, Values: make([]float64, int(hi-lo)+1)}
		for i := range s.Values {
			v, ok := vals[lo.Add(i)]
			if !ok {
				v = math.NaN()
			}
			s.Values[i] = v
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// ReadFedstl reads the named series from gretl's FRED extract (fedstl.idx
// and fedstl.bin of Debian's gretl-data): the index is a comment line, then
// pairs of lines — "name description" and "M start - end n = N" — and the
// data file is little-endian float32 values, series after series in index
// order.
func ReadFedstl(idxPath, binPath string, names ...string) ([]*Series, error) {
	idx, err := os.Open(idxPath)
	if err != nil {
		return nil, fmt.Errorf("fedstl: %w", err)
	}
	defer idx.Close()
	bin, err := os.ReadFile(binPath)
	if err != nil {
		return nil, fmt.Errorf("fedstl: %w", err)
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	sc := bufio.NewScanner(idx)
	sc.Scan() // comment
	count := regexp.MustCompile(`n\s*=\s*(\d+)\s*$`)
	monthly := regexp.MustCompile(`^M\s+(\d{4})\.(\d{2})\s`)
	b := newBuilder()
	off := 0
	for sc.Scan() {
		name, desc, _ := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		if !sc.Scan() {
			return nil, fmt.Errorf("fedstl: %s has no data line", name)
		}
		c := count.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if c == nil {
			return nil, fmt.Errorf("fedstl: %s: cannot read %q", name, sc.Text())
		}
		n, _ := strconv.Atoi(c[1])
		if (off+n)*4 > len(bin) {
			return nil, fmt.Errorf("fedstl: %s runs past the data file", name)
		}
		if m := monthly.FindStringSubmatch(sc.Text()); m != nil && want[name] {
			y, _ := strconv.Atoi(m[1])
			mo, _ := strconv.Atoi(m[2])
			start := report.NewPeriod(y, 1).Add(mo - 1)
			for k := 0; k < n; k++ {
				v := float64(math.Float32frombits(binary.LittleEndian.Uint32(bin[(off+k)*4:])))
				b.add("fedstl:"+name, strings.TrimSpace(desc), start.Add(k), v)
			}
		}
		off += n
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("fedstl: %w", err)
	}
	return b.done(), nil
}

// ReadFPP3 reads the BLS CES file of the fpp3 data (tab-separated, a date
// column then one column per series named "<id>_...", empty = missing).
func ReadFPP3(path string) ([]*Series, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("fpp3: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma = '\t'
	r.FieldsPerRecord = -1
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("fpp3: %w", err)
	}
	b := newBuilder()
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("fpp3: %w", err)
		}
		if len(rec[0]) < 7 {
			continue
		}
		p, err := report.ParsePeriod(rec[0][:7])
		if err != nil {
			return nil, fmt.Errorf("fpp3: %w", err)
		}
		for i := 1; i < len(rec) && i < len(head); i++ {
			v := strings.TrimSpace(rec[i])
			if v == "" {
				continue
			}
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return nil, fmt.Errorf("fpp3: %s %s: %q", head[i], p, v)
			}
			id, _, _ := strings.Cut(head[i], "_")
			b.add(id, "", p, x)
		}
	}
	return b.done(), nil
}
