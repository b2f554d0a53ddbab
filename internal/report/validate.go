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
	r, p := Decode(data, now)
	if p != nil {
		return r, p
	}
	if reg != nil && !reg.Has(r.FirmID) {
		return r, problem(ReasonUnknownFirm, "firm_id", "firm %s is not in the registry of monitored firms", r.FirmID)
	}
	return r, nil
}
