package report

import (
	"encoding/binary"
	"hash/fnv"
)

// ContentHash identifies what a report says: firm, period, revision, every
// figure and the note — not when it was reported. Two reports with the
// same (firm, period, revision) and different content hashes are a
// duplicate_revision: a revision is sent once, a correction is a new
// revision. Ingest stores it (report_revisions.content_hash) and the
// gateway compares with it, so it must never change: FNV-1a 64 over the
// fields in a fixed binary layout. It is never 0 (0 stands for "unknown"
// in storage).
func (r Report) ContentHash() uint64 {
	h := fnv.New64a()
	var b [4]byte
	u32 := func(v uint32) {
		binary.BigEndian.PutUint32(b[:], v)
		_, _ = h.Write(b[:]) // a hash does not fail
	}
	str := func(s string) {
		u32(uint32(len(s)))
		_, _ = h.Write([]byte(s))
	}
	str(r.FirmID)
	u32(uint32(r.Period))
	u32(r.Revision)
	u32(r.Headcount)
	u32(r.Vacancies)
	u32(r.Hires)
	for _, v := range r.Separations.Values() {
		u32(v)
	}
	str(r.Note)
	if s := h.Sum64(); s != 0 {
		return s
	}
	return 1
}
