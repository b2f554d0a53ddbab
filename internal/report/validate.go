package report

import "time"

// Registry is what validation needs to know of the firm registry.
type Registry interface {
	// Has reports whether the firm is in the monitored sample.
	Has(firmID string) bool
}

// Interner is a Registry that hands out its own copy of a registered firm
// id, so that decoding takes the firm id from it instead of allocating one
// per report (ingest's registry). Intern reports false for a firm it does
// not hold; validation then asks Has, which may look further.
type Interner interface {
	Registry
	Intern(id []byte) (string, bool)
}

// Validate decodes one message and checks its firm against the registry.
// It is the single judgement used by ingest, the gateway and `validate`.
func Validate(data []byte, now time.Time, reg Registry) (Report, *Problem) {
	return validate(data, now, reg, false)
}

// ValidateReceived judges a report as a receiver that stamps reports (the
// gateway) takes it in: every rule of Validate applies to the bytes as
// received, reported_at included — it must be an RFC 3339 string or absent,
// and counts toward the 64 KiB — but it is then dropped, and the report
// counts as reported at receivedAt (the returned ReportedAt is zero: the
// receiver stamps it).
func ValidateReceived(data []byte, receivedAt time.Time, reg Registry) (Report, *Problem) {
	return validate(data, receivedAt, reg, true)
}

func validate(data []byte, now time.Time, reg Registry, received bool) (Report, *Problem) {
	in, _ := reg.(Interner)
	r, interned, p := decode(data, now, received, in)
	if p != nil {
		return r, p
	}
	if reg != nil && !interned && !reg.Has(r.FirmID) {
		return r, problem(ReasonUnknownFirm, "firm_id", "firm %s is not in the registry of monitored firms", r.FirmID)
	}
	return r, nil
}
