package alerts_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestAlertsDoNotImportTheDetector: the alerts component learns what it
// needs of a warning from the event (internal/alertevent), never from the
// detector's package or its plan file.
func TestAlertsDoNotImportTheDetector(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list listed %d packages: %s", len(deps), out)
	}
	for _, p := range deps {
		if p == "github.com/layoffwatch/layoffwatch/detector" || strings.HasPrefix(p, "github.com/layoffwatch/layoffwatch/detector/") {
			t.Errorf("alerts depends on %s", p)
		}
	}
}
