package report

import "time"

// Registry is what validation needs to know of the firm registry.
type Registry interface {
	// Has reports whether the firm is in the monitored sample.
	Has(firmID string) bool
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
	r, p := decode(data, now, received)
	if p != nil {
		return r, p
	}
	if reg != nil && !reg.Has(r.FirmID) {
		return r, problem(ReasonUnknownFirm, "firm_id", "firm %s is not in the registry of monitored firms", r.FirmID)
	}
	return r, nil
}
