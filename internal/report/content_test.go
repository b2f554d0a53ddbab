package report

import (
	"testing"
	"time"
)

func TestContentHash(t *testing.T) {
	r := Report{FirmID: testFirm, Period: NewPeriod(2026, time.March), Headcount: 412, Vacancies: 6, Hires: 3,
		Separations: Separations{EconomicLayoff: 20, Resignation: 2}, Revision: 1, Note: "订单下降"}
	// the value is stored: it must not change between versions
	if got := r.ContentHash(); got != 0x1a0cc33086fca392 {
		t.Fatalf("ContentHash = %#x: the stored hash changed", got)
	}
	same := r
	same.ReportedAt = time.Now()
	if same.ContentHash() != r.ContentHash() {
		t.Error("reported_at changed the content hash")
	}
	for name, edit := range map[string]func(*Report){
		"firm":       func(x *Report) { x.FirmID = "9144030071526726XG" },
		"period":     func(x *Report) { x.Period++ },
		"revision":   func(x *Report) { x.Revision = 2 },
		"headcount":  func(x *Report) { x.Headcount++ },
		"vacancies":  func(x *Report) { x.Vacancies++ },
		"hires":      func(x *Report) { x.Hires++ },
		"separation": func(x *Report) { x.Separations.EconomicLayoff, x.Separations.ClosureBankruptcy = 0, 20 },
		"note":       func(x *Report) { x.Note += " " },
		"note moved": func(x *Report) { x.FirmID, x.Note = x.FirmID+"订", "单下降" },
	} {
		x := r
		edit(&x)
		if x.ContentHash() == r.ContentHash() {
			t.Errorf("%s: same content hash", name)
		}
	}
}
