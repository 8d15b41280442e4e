package privacy

import "time"

// CCPAAckBusinessDays is how many business days a CCPA request may wait for acknowledgement.
const CCPAAckBusinessDays = 10

// DueDate is the statutory response deadline of a request received at receivedAt: one calendar
// month under GDPR, 45 days under CCPA. A month ending on a day the next month lacks ends on that
// month's last day (31 January → 28/29 February), never spilling into the month after.
func DueDate(law Law, receivedAt time.Time) time.Time {
	if law == CCPA {
		return receivedAt.AddDate(0, 0, 45)
	}
	return addMonths(receivedAt, 1)
}

// ExtendedDueDate is the deadline after the single permitted extension: two further months
// under GDPR (three from receipt), 45 further days under CCPA (90 from receipt).
func ExtendedDueDate(law Law, receivedAt time.Time) time.Time {
	if law == CCPA {
		return receivedAt.AddDate(0, 0, 90)
	}
	return addMonths(receivedAt, 3)
}

// AckDue is the acknowledgement deadline: 10 business days (Saturdays and Sundays skipped;
// public holidays are not modelled, which only makes the deadline earlier) under CCPA. GDPR sets
// none, so ok is false.
func AckDue(law Law, receivedAt time.Time) (due time.Time, ok bool) {
	if law != CCPA {
		return time.Time{}, false
	}
	d := receivedAt
	for n := 0; n < CCPAAckBusinessDays; {
		d = d.AddDate(0, 0, 1)
		if wd := d.Weekday(); wd != time.Saturday && wd != time.Sunday {
			n++
		}
	}
	return d, true
}

// addMonths adds n calendar months, clamping the day to the target month's length.
func addMonths(t time.Time, n int) time.Time {
	y, m, d := t.Date()
	first := time.Date(y, m+time.Month(n), 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
	last := first.AddDate(0, 1, -1).Day()
	return first.AddDate(0, 0, min(d, last)-1)
}
