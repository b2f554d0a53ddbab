package email

import (
	"image/color"

	"github.com/layoffwatch/layoffwatch/internal/chart"
)

// Size of the chart in pixels.
const (
	ChartWidth  = chart.Width
	ChartHeight = chart.Height
)

// drawChart draws the headcount series as a PNG in the reader's language (the
// shared internal/chart, which the console draws with too): the line, and
// the alert month marked in the level's colour. The email draws no threshold
// line: an alert event carries none (the console works one out from the
// rule, console/threshold.go).
func drawChart(lang string, series []Point, period string, mark color.Color) ([]byte, error) {
	pts := make([]chart.Point, len(series))
	for i, p := range series {
		pts[i] = chart.Point{Period: p.Period, Value: p.Headcount}
	}
	return chart.PNG(chart.Chart{Lang: lang, Series: pts, Period: period, Mark: mark})
}

// parseColor reads "#rrggbb" or "#rgb"; ok is false otherwise.
func parseColor(s string) (color.RGBA, bool) { return chart.ParseColor(s) }
