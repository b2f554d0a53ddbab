package obs_test

import (
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/layoffwatch/layoffwatch/internal/obs"
)

// TestBuildInfo: what the link sets wins; the gauge carries it as labels,
// always 1.
func TestBuildInfo(t *testing.T) {
	b := obs.ReadBuild("v1.4.0", "0123abc")
	if b.Version != "v1.4.0" || b.Revision != "0123abc" || b.GoVersion != runtime.Version() {
		t.Fatalf("ReadBuild = %+v", b)
	}
	if d := obs.ReadBuild("", ""); d.Version != "dev" || d.Revision == "" {
		t.Fatalf("ReadBuild without link data = %+v", d)
	}
	reg := prometheus.NewRegistry()
	if err := obs.RegisterBuildInfo(reg, b); err != nil {
		t.Fatal(err)
	}
	want := `# HELP layoffwatch_build_info Always 1; its labels say which layoffwatch build is running.
# TYPE layoffwatch_build_info gauge
layoffwatch_build_info{goversion="` + runtime.Version() + `",revision="0123abc",version="v1.4.0"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "layoffwatch_build_info"); err != nil {
		t.Fatal(err)
	}
	if err := obs.RegisterBuildInfo(reg, b); err == nil {
		t.Fatal("registered twice")
	}
}
