package email

import (
	"bytes"
	"fmt"
	"image/color"
	"image/png"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Size of the chart in pixels.
const (
	ChartWidth  = 640
	ChartHeight = 300
	chartDPI    = 96
)

// chart draws the headcount series as a PNG: the line, and the alert month
// marked in the level's colour. All text is ASCII: the default fonts have no
// CJK glyphs.
func chart(series []Point, period string, mark color.Color) ([]byte, error) {
	p := plot.New()
	p.Title.Text = "Headcount, last " + fmt.Sprint(len(series)) + " months"
	p.Y.Label.Text = "headcount"
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())

	xys := make(plotter.XYs, len(series))
	lo, hi := math.Inf(1), math.Inf(-1)
	alert := -1
	for i, pt := range series {
		y := pt.Headcount
		if math.IsNaN(y) || math.IsInf(y, 0) {
			y = 0
		}
		xys[i] = plotter.XY{X: float64(i), Y: y}
		lo, hi = math.Min(lo, y), math.Max(hi, y)
		if pt.Period == period {
			alert = i
		}
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
	p.Legend.Add("headcount", line)

	// Some room above and below, and never a flat axis.
	pad := (hi - lo) * 0.1
	if pad == 0 {
		pad = math.Max(1, math.Abs(hi)*0.1)
	}
	// The top third stays free for the legend.
	p.Y.Min, p.Y.Max = math.Max(0, lo-pad), hi+pad+(hi-lo+pad)*0.5
	if lo < 0 {
		p.Y.Min = lo - pad
	}
	p.X.Min, p.X.Max = -0.5, float64(len(series))-0.5

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
		p.Legend.Add("alert month "+asciiOnly(period), ms)
	}

	p.X.Tick.Marker = plot.TickerFunc(func(_, _ float64) []plot.Tick {
		step := 1
		if len(series) > 12 {
			step = 3
		}
		ticks := make([]plot.Tick, 0, len(series))
		for i, pt := range series {
			t := plot.Tick{Value: float64(i)}
			// Label every step-th month counting back from the last one.
			if (len(series)-1-i)%step == 0 {
				t.Label = asciiOnly(pt.Period)
			}
			ticks = append(ticks, t)
		}
		return ticks
	})
	p.Y.Tick.Marker = plot.TickerFunc(func(lo, hi float64) []plot.Tick {
		ticks := plot.DefaultTicks{}.Ticks(lo, hi)
		for i := range ticks {
			if ticks[i].Label != "" {
				ticks[i].Label = formatNumber(ticks[i].Value)
			}
		}
		return ticks
	})

	c := vgimg.NewWith(
		vgimg.UseWH(vg.Length(ChartWidth)*vg.Inch/chartDPI, vg.Length(ChartHeight)*vg.Inch/chartDPI),
		vgimg.UseDPI(chartDPI),
	)
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if err := png.Encode(&buf, c.Image()); err != nil {
		return nil, fmt.Errorf("chart: encode png: %w", err)
	}
	return buf.Bytes(), nil
}

// asciiOnly replaces what the chart font cannot draw.
func asciiOnly(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}

// parseColor reads "#rrggbb" or "#rgb"; ok is false otherwise.
func parseColor(s string) (color.RGBA, bool) {
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
