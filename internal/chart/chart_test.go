package chart

import (
	"bytes"
	"image/png"
	"os"
	"testing"

	"golang.org/x/image/font/sfnt"

	"github.com/layoffwatch/layoffwatch/internal/region"
)

func series(n int) []Point {
	out := make([]Point, n)
	for i := range out {
		y, m := 2024+(i+2)/12, (i+2)%12+1
		out[i] = Point{Period: string(rune('0'+y/1000)) + string(rune('0'+y/100%10)) + string(rune('0'+y/10%10)) + string(rune('0'+y%10)) + "-" + string(rune('0'+m/10)) + string(rune('0'+m%10)), Value: float64(400 + i*3)}
	}
	return out
}

// TestFontCoversTheCharts checks that the embedded font has a glyph for
// every character the charts write in Chinese and for the names of every
// prefecture and county of Gansu (the first province), so nothing is drawn
// as an empty box.
func TestFontCoversTheCharts(t *testing.T) {
	f, err := sfnt.Parse(notoSC)
	if err != nil {
		t.Fatal(err)
	}
	var buf sfnt.Buffer
	missing := map[rune]string{}
	check := func(what, s string) {
		for _, r := range s {
			if r == ' ' {
				continue
			}
			if gi, err := f.GlyphIndex(&buf, r); err != nil || gi == 0 {
				missing[r] = what
			}
		}
	}
	w := vocabulary("zh-CN", 24)
	for _, s := range []string{w.title, w.headcount, w.threshold, w.expected, w.alertMonth, "0123456789,.-·"} {
		check("vocabulary", s)
	}
	for _, r := range region.Gansu().Counties("") {
		check(r.Code, r.Name)
	}
	for _, r := range region.Gansu().Prefectures() {
		check(r.Code, r.Name)
	}
	for r, what := range missing {
		t.Errorf("no glyph for %q (%s)", r, what)
	}
}

func TestPNG(t *testing.T) {
	thr := 380.0
	tests := []struct {
		name string
		c    Chart
	}{
		{name: "chinese with everything", c: Chart{Lang: "zh-CN", Series: series(24), Expected: series(24)[20:], Threshold: &thr, Period: series(24)[23].Period, Subject: "兰州示例机械有限公司"}},
		{name: "english", c: Chart{Lang: "en", Series: series(24), Period: series(24)[23].Period}},
		{name: "empty", c: Chart{}},
		{name: "one point", c: Chart{Series: series(1)}},
		{name: "control characters in the subject", c: Chart{Series: series(3), Subject: "a\r\nb"}},
		{name: "other size", c: Chart{Series: series(3), Width: 320, Height: 200}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := PNG(tt.c)
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			w, h := Width, Height
			if tt.c.Width > 0 {
				w, h = tt.c.Width, tt.c.Height
			}
			if img.Bounds().Dx() != w || img.Bounds().Dy() != h {
				t.Errorf("size %v, want %dx%d", img.Bounds(), w, h)
			}
			if dir := os.Getenv("CHART_OUT"); dir != "" {
				_ = os.WriteFile(dir+"/"+tt.name+".png", b, 0o600)
			}
		})
	}
	// the language changes the drawing
	zh, _ := PNG(Chart{Lang: "zh-CN", Series: series(12)})
	en, _ := PNG(Chart{Lang: "en", Series: series(12)})
	if bytes.Equal(zh, en) {
		t.Error("the Chinese and the English chart are the same image")
	}
}

func TestFormatNumber(t *testing.T) {
	for _, c := range []struct {
		in   float64
		want string
	}{{0, "0"}, {999, "999"}, {1000, "1,000"}, {-76450, "-76,450"}, {12.333, "12.33"}, {0.5, "0.5"}} {
		if got := FormatNumber(c.in); got != c.want {
			t.Errorf("FormatNumber(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}
