package obs

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// Build says which layoffwatch is running.
type Build struct {
	Version   string // the release (-ldflags "-X main.version=…"), else the module version, else "dev"
	Revision  string // the VCS commit the binary was built from, "-dirty" when modified; "unknown" without VCS data
	GoVersion string
}

// ReadBuild describes this binary: version and revision as set at link
// time (-X main.version=… -X main.revision=…, what the Dockerfile does);
// what is not set comes from the build information Go records (the
// module's version, the VCS revision), else "dev" and "unknown".
func ReadBuild(version, revision string) Build {
	b := Build{Version: version, Revision: "unknown", GoVersion: runtime.Version()}
	info, ok := debug.ReadBuildInfo()
	if ok {
		if (b.Version == "" || b.Version == "dev") && info.Main.Version != "" && info.Main.Version != "(devel)" {
			b.Version = info.Main.Version
		}
		var rev string
		dirty := false
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if rev != "" && revision == "" {
			b.Revision = rev
			if dirty {
				b.Revision += "-dirty"
			}
		}
	}
	if revision != "" {
		b.Revision = revision
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	return b
}

// String is the line `layoffwatch --version` prints after the name.
func (b Build) String() string {
	return fmt.Sprintf("%s (revision %s, %s)", b.Version, b.Revision, b.GoVersion)
}

// RegisterBuildInfo adds layoffwatch_build_info{version,revision,goversion},
// always 1, to reg: every component's /metrics says what runs.
func RegisterBuildInfo(reg prometheus.Registerer, b Build) error {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "layoffwatch_build_info",
		Help:        "Always 1; its labels say which layoffwatch build is running.",
		ConstLabels: prometheus.Labels{"version": b.Version, "revision": b.Revision, "goversion": b.GoVersion}})
	g.Set(1)
	if err := reg.Register(g); err != nil {
		return fmt.Errorf("register build info: %w", err)
	}
	return nil
}
