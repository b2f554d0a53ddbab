// Package procstat reads what the benchmarks report of a process from
// Linux's /proc: its peak resident set.
package procstat

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// PeakRSS is the peak resident set of process pid (0: this process), in
// MiB: VmHWM of /proc/<pid>/status. It is the process's own, unlike
// getrusage's ru_maxrss of a child, which keeps the high-water mark of the
// process it was forked from.
func PeakRSS(pid int) (float64, error) {
	who := "self"
	if pid != 0 {
		who = strconv.Itoa(pid)
	}
	status, err := os.ReadFile("/proc/" + who + "/status")
	if err != nil {
		return 0, fmt.Errorf("peak rss: %w", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if kb, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			v, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(kb), "kB")))
			if err != nil {
				return 0, fmt.Errorf("peak rss: VmHWM %q: %w", kb, err)
			}
			return float64(v) / 1024, nil
		}
	}
	return 0, fmt.Errorf("peak rss: no VmHWM in /proc/%s/status", who)
}

// ResetPeakRSS resets this process's VmHWM to its current RSS
// (/proc/self/clear_refs, 5).
func ResetPeakRSS() error {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0o200)
}
