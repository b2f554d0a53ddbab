package detector_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// copyLineRe is the first line of a golden plan that copies a shipped plan.
var copyLineRe = regexp.MustCompile(`^# copy of (deploy/plans/[A-Za-z0-9_.-]+\.yaml)$`)

// TestGoldenPlansMatchShipped keeps the plan copies of the golden cases
// honest: a testdata/<case>/plan.yaml whose first line is
// "# copy of deploy/plans/<name>.yaml" must be byte-identical to that shipped
// plan after the first line, so that a golden case never pins the behaviour
// of a stale copy. After editing a shipped plan, copy it again (keeping the
// first line) and review the golden diff with -update.
func TestGoldenPlansMatchShipped(t *testing.T) {
	plans, err := filepath.Glob("testdata/*/plan.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range plans {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		first, rest, _ := bytes.Cut(b, []byte("\n"))
		m := copyLineRe.FindSubmatch(bytes.TrimSuffix(first, []byte("\r")))
		if m == nil {
			if bytes.HasPrefix(first, []byte("# copy of")) {
				t.Errorf("%s: first line %q should read \"# copy of deploy/plans/<name>.yaml\"", p, first)
			}
			continue // a plan written for its case
		}
		shippedPath := string(m[1])
		shipped, err := os.ReadFile(filepath.Join("..", filepath.FromSlash(shippedPath)))
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if !bytes.Equal(rest, shipped) {
			t.Errorf("%s is not a copy of %s (first difference on line %d of the copy): copy the shipped plan again below the first line",
				p, shippedPath, firstDiffLine(string(rest), string(shipped))+1)
		}
	}
}

// firstDiffLine returns the 1-based line of b (as a line of a) where a and b
// first differ.
func firstDiffLine(a, b string) int {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return i + 1
		}
	}
	return min(len(al), len(bl)) + 1
}
