// Package chart draws the headcount chart of a warning — the series of a
// firm or a region, the threshold crossed, the seasonal expectation and the
// alert month — as a PNG, in the reader's language. The alert emails
// (alerts/email) and the console draw it with this one function.
//
// Text is set in Noto Sans CJK SC (font/, a GB 2312 subset embedded in the
// binary; see font/gen.sh), so Chinese titles, legends and names draw as
// glyphs, not boxes. It does not read data: callers pass the points.
package chart

import (
	"bytes"
	_ "embed" // the font
	"fmt"
	"image/color"
	"image/png"
	"math"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/image/font/opentype"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Default size of the chart in pixels.
const (
	Width  = 640
	Height = 300
	dpi    = 96
)

//go:embed font/NotoSansSC-GB2312.otf
var notoSC []byte

const typeface = "Noto Sans SC"

// fonts parses the embedded font once.
var fonts = sync.OnceValues(func() (*font.Cache, error) {
	f, err := opentype.Parse(notoSC)
	if err != nil {
		return nil, fmt.Errorf("chart: embedded font: %w", err)
	}
	return font.NewCache(font.Collection{{Font: font.Font{Typeface: typeface}, Face: f}}), nil
})

// Point is one month of a series.
type Point struct {
	Period string  // YYYY-MM
	Value  float64 // headcount
}

// Chart is what to draw.
type Chart struct {
	Lang      string   // "en…" English, anything else Simplified Chinese
	Series    []Point  // the headcount, oldest first
	Expected  []Point  // optional: the seasonal expectation for some of the months
	Threshold *float64 // optional: a headcount line (the threshold crossed)
	Period    string   // the alert month, marked when in Series
	Mark      color.Color
	Subject   string // optional: the firm or region, in the title
	Width     int    // pixels; 0: Width
	Height    int    // pixels; 0: Height
}

type words struct{ title, headcount, threshold, expected, alertMonth string }

func vocabulary(lang string, months int) words {
	if strings.HasPrefix(strings.ToLower(lang), "en") {
		return words{"Headcount, last " + strconv.Itoa(months) + " months", "headcount", "threshold ", "seasonal expectation", "alert month "}
	}
	return words{"近" + strconv.Itoa(months) + "个月职工人数", "职工人数", "阈值 ", "季节性预期", "预警月份 "}
}

// PNG draws c.
func PNG(c Chart) ([]byte, error) {
	cache, err := fonts()
	if err != nil {
		return nil, err
	}
	w, h := c.Width, c.Height
	if w <= 0 {
		w = Width
	}
	if h <= 0 {
		h = Height
	}
	mark := c.Mark
	if mark == nil {
		mark = color.RGBA{R: 0x60, G: 0x7d, B: 0x8b, A: 0xff}
	}
	voc := vocabulary(c.Lang, len(c.Series))
	p := plot.New()
	setFont(p, text.Plain{Fonts: cache})
	p.Title.Text = voc.title
	if s := oneLine(c.Subject); s != "" {
		p.Title.Text = s + " · " + voc.title
	}
	p.Y.Label.Text = voc.headcount
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())

	xys := make(plotter.XYs, len(c.Series))
	lo, hi := math.Inf(1), math.Inf(-1)
	alert := -1
	index := make(map[string]int, len(c.Series))
	for i, pt := range c.Series {
		y := finite(pt.Value)
		xys[i] = plotter.XY{X: float64(i), Y: y}
		lo, hi = math.Min(lo, y), math.Max(hi, y)
		index[pt.Period] = i
		if pt.Period == c.Period {
			alert = i
		}
	}
	if len(xys) == 0 {
		lo, hi = 0, 1
	}
	line, points, err := plotter.NewLinePoints(xys)
	if err != nil {
		return nil, fmt.Errorf("chart: %w", err)
	}
	line.Color = color.RGBA{R: 0x37, G: 0x47, B: 0x4f, A: 0xff}
	line.Width = vg.Points(1.5)
	points.Shape = draw.CircleGlyph{}
	points.Radius = vg.Points(1.5)
	points.Color = line.Color
	p.Add(line, points)
	p.Legend.Add(voc.headcount, line)

	var exp plotter.XYs
	for _, pt := range c.Expected {
		if i, ok := index[pt.Period]; ok && !math.IsNaN(pt.Value) && !math.IsInf(pt.Value, 0) {
			exp = append(exp, plotter.XY{X: float64(i), Y: pt.Value})
			lo, hi = math.Min(lo, pt.Value), math.Max(hi, pt.Value)
		}
	}
	if len(exp) > 0 {
		el, ep, err := plotter.NewLinePoints(exp)
		if err != nil {
			return nil, fmt.Errorf("chart: %w", err)
		}
		el.Color = color.RGBA{R: 0x2e, G: 0x7d, B: 0x32, A: 0xff}
		el.Width = vg.Points(1)
		el.Dashes = []vg.Length{vg.Points(1), vg.Points(2)}
		ep.Shape = draw.BoxGlyph{}
		ep.Radius = vg.Points(1.5)
		ep.Color = el.Color
		p.Add(el, ep)
		p.Legend.Add(voc.expected, el)
	}

	if c.Threshold != nil && !math.IsNaN(*c.Threshold) && !math.IsInf(*c.Threshold, 0) {
		t := *c.Threshold
		lo, hi = math.Min(lo, t), math.Max(hi, t)
		tl, err := plotter.NewLine(plotter.XYs{{X: 0, Y: t}, {X: float64(max(len(c.Series)-1, 1)), Y: t}})
		if err != nil {
			return nil, fmt.Errorf("chart: %w", err)
		}
		tl.Color = color.RGBA{R: 0xd3, G: 0x2f, B: 0x2f, A: 0xff}
		tl.Width = vg.Points(1)
		tl.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(tl)
		p.Legend.Add(voc.threshold+FormatNumber(t), tl)
	}

	// Some room above and below, and never a flat axis; the top third
	// stays free for the legend.
	pad := (hi - lo) * 0.1
	if pad == 0 {
		pad = math.Max(1, math.Abs(hi)*0.1)
	}
	p.Y.Min, p.Y.Max = math.Max(0, lo-pad), hi+pad+(hi-lo+pad)*0.5
	if lo < 0 {
		p.Y.Min = lo - pad
	}
	p.X.Min, p.X.Max = -0.5, math.Max(float64(len(c.Series))-0.5, 0.5)

	if alert >= 0 {
		ml, err := plotter.NewLine(plotter.XYs{{X: float64(alert), Y: p.Y.Min}, {X: float64(alert), Y: p.Y.Max}})
		if err != nil {
			return nil, fmt.Errorf("chart: %w", err)
		}
		ml.Color = mark
		ml.Width = vg.Points(1)
		ml.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
		ms, err := plotter.NewScatter(plotter.XYs{xys[alert]})
		if err != nil {
			return nil, fmt.Errorf("chart: %w", err)
		}
		ms.Shape = draw.CircleGlyph{}
		ms.Radius = vg.Points(4.5)
		ms.Color = mark
		p.Add(ml, ms)
		p.Legend.Add(voc.alertMonth+oneLine(c.Period), ms)
	}

	series := c.Series
	p.X.Tick.Marker = plot.TickerFunc(func(_, _ float64) []plot.Tick {
		step := 1
		if len(series) > 12 {
			step = 3
		}
		ticks := make([]plot.Tick, 0, len(series))
		for i, pt := range series {
			t := plot.Tick{Value: float64(i)}
			// label every step-th month counting back from the last one
			if (len(series)-1-i)%step == 0 {
				t.Label = oneLine(pt.Period)
			}
			ticks = append(ticks, t)
		}
		return ticks
	})
	p.Y.Tick.Marker = plot.TickerFunc(func(lo, hi float64) []plot.Tick {
		ticks := plot.DefaultTicks{}.Ticks(lo, hi)
		for i := range ticks {
			if ticks[i].Label != "" {
				ticks[i].Label = FormatNumber(ticks[i].Value)
			}
		}
		return ticks
	})

	cv := vgimg.NewWith(
		vgimg.UseWH(vg.Length(w)*vg.Inch/dpi, vg.Length(h)*vg.Inch/dpi),
		vgimg.UseDPI(dpi),
	)
	p.Draw(draw.New(cv))
	var buf bytes.Buffer
	if err := png.Encode(&buf, cv.Image()); err != nil {
		return nil, fmt.Errorf("chart: encode png: %w", err)
	}
	return buf.Bytes(), nil
}

// setFont sets every text of p in the embedded font.
func setFont(p *plot.Plot, h text.Handler) {
	p.TextHandler = h
	for _, st := range []*text.Style{&p.Title.TextStyle, &p.X.Label.TextStyle, &p.Y.Label.TextStyle,
		&p.X.Tick.Label, &p.Y.Tick.Label, &p.Legend.TextStyle} {
		st.Font.Typeface = typeface
		st.Font.Variant = ""
		st.Handler = h
	}
	p.Title.TextStyle.Font.Size = vg.Points(12)
	p.Legend.TextStyle.Font.Size = vg.Points(10)
	p.X.Tick.Label.Font.Size, p.Y.Tick.Label.Font.Size = vg.Points(9), vg.Points(9)
}

func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

// oneLine drops control characters, which the text handler would treat
// as line breaks.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// ParseColor reads "#rrggbb" or "#rgb"; ok is false otherwise.
func ParseColor(s string) (color.RGBA, bool) {
	if len(s) != 7 && len(s) != 4 || s[0] != '#' {
		return color.RGBA{}, false
	}
	v, err := strconv.ParseUint(s[1:], 16, 32)
	if err != nil {
		return color.RGBA{}, false
	}
	byteAt := func(shift uint) uint8 { return uint8(v >> shift & 0xff) } //nolint:gosec // masked to 8 bits
	if len(s) == 4 {
		return color.RGBA{R: byteAt(8) & 0xf * 17, G: byteAt(4) & 0xf * 17, B: byteAt(0) & 0xf * 17, A: 0xff}, true
	}
	return color.RGBA{R: byteAt(16), G: byteAt(8), B: byteAt(0), A: 0xff}, true
}

// FormatNumber writes whole numbers with thousands separators (1,500) and
// others with at most two decimals (12.33), as the emails do.
func FormatNumber(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	if f != math.Trunc(f) || math.Abs(f) >= 1e15 {
		s := strings.TrimRight(strconv.FormatFloat(f, 'f', 2, 64), "0")
		return strings.TrimSuffix(s, ".")
	}
	s := strconv.FormatInt(int64(math.Abs(f)), 10)
	var b strings.Builder
	if f < 0 {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
