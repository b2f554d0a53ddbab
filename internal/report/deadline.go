package report

import "time"

// DefaultDeadlineDay is the day of the next month by the end of which a
// period's reports are due (the window runs from the 25th to the 5th).
const DefaultDeadlineDay = 5

// Deadline is the end of the reporting window of period p: the end (24:00)
// of day `day` of the next month, Asia/Shanghai.
func Deadline(p Period, day int) time.Time {
	next := p.Add(1)
	return time.Date(next.Year(), next.Month(), day+1, 0, 0, 0, 0, shanghai)
}
