package csvcell

import (
	"strings"
	"testing"
)

func TestNeutralize(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"兰州机械", "兰州机械"},
		{"=HYPERLINK(\"http://evil.example\",\"x\")", "'=HYPERLINK(\"http://evil.example\",\"x\")"},
		{"+1+1", "'+1+1"},
		{"-2+3", "'-2+3"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\t=1", "'\t=1"},
		{"\r=1", "'\r=1"},
		{"a=1", "a=1"},
		{"'plain", "'plain"}, // a quote before text is text already
		{"'=1", "''=1"},      // a quote before a formula character is kept, escaped
		{"''x", "'''x"},      // and so is a quote before a quote
		{"'", "'"},
		{" =1", " =1"},
	} {
		got := Neutralize(c.in)
		if got != c.want {
			t.Errorf("Neutralize(%q) = %q, want %q", c.in, got, c.want)
		}
		if back := Restore(got); back != c.in {
			t.Errorf("Restore(Neutralize(%q)) = %q", c.in, back)
		}
	}
}

// FuzzNeutralize: an exported cell never starts a formula, and an importer
// gets the stored text back.
func FuzzNeutralize(f *testing.F) {
	for _, s := range []string{"", "=1", "'=1", "''", "'", "-5", "\t\r", "@", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := Neutralize(s)
		if n != "" && strings.ContainsRune(formulaStart, rune(n[0])) {
			t.Fatalf("Neutralize(%q) = %q starts a formula", s, n)
		}
		if back := Restore(n); back != s {
			t.Fatalf("Restore(Neutralize(%q)) = %q", s, back)
		}
	})
}
