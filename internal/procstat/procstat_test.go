package procstat

import (
	"os"
	"testing"
)

func TestPeakRSS(t *testing.T) {
	self, err := PeakRSS(0)
	if err != nil {
		t.Fatal(err)
	}
	byPID, err := PeakRSS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if self <= 0 || byPID <= 0 {
		t.Fatalf("peak RSS %v / %v MiB", self, byPID)
	}
	if _, err := PeakRSS(-1); err == nil {
		t.Error("no error for a process that does not exist")
	}
}
