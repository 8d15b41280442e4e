package privacy_test

import (
	"testing"
	"time"

	"github.com/ledgerline/ledgerline/domain"
	"github.com/ledgerline/ledgerline/domain/privacy"
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 9, 30, 0, 0, time.UTC) }

func TestDueDate(t *testing.T) {
	cases := []struct {
		name        string
		law         privacy.Law
		received    time.Time
		due, extDue time.Time
	}{
		{"GDPRMidMonth", privacy.GDPR, day(2026, 3, 10), day(2026, 4, 10), day(2026, 6, 10)},
		{"GDPRJan31ClampsToFeb28", privacy.GDPR, day(2026, 1, 31), day(2026, 2, 28), day(2026, 4, 30)},
		{"GDPRJan31LeapYear", privacy.GDPR, day(2028, 1, 31), day(2028, 2, 29), day(2028, 4, 30)},
		{"GDPRDecemberRollsYear", privacy.GDPR, day(2026, 12, 15), day(2027, 1, 15), day(2027, 3, 15)},
		{"GDPRMay31", privacy.GDPR, day(2026, 5, 31), day(2026, 6, 30), day(2026, 8, 31)},
		{"CCPA45Days", privacy.CCPA, day(2026, 3, 10), day(2026, 4, 24), day(2026, 6, 8)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := privacy.DueDate(c.law, c.received); !got.Equal(c.due) {
				t.Fatalf("DueDate = %v, want %v", got, c.due)
			}
			if got := privacy.ExtendedDueDate(c.law, c.received); !got.Equal(c.extDue) {
				t.Fatalf("ExtendedDueDate = %v, want %v", got, c.extDue)
			}
		})
	}
}

func TestAckDue(t *testing.T) {
	cases := []struct {
		name     string
		law      privacy.Law
		received time.Time
		want     time.Time
		ok       bool
	}{
		{"CCPAFromTuesday", privacy.CCPA, day(2026, 3, 10), day(2026, 3, 24), true},
		{"CCPAFromFriday", privacy.CCPA, day(2026, 3, 13), day(2026, 3, 27), true},
		{"CCPAFromSaturday", privacy.CCPA, day(2026, 3, 14), day(2026, 3, 27), true},
		{"CCPAFromSunday", privacy.CCPA, day(2026, 3, 15), day(2026, 3, 27), true},
		{"GDPRHasNone", privacy.GDPR, day(2026, 3, 10), time.Time{}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := privacy.AckDue(c.law, c.received)
			if ok != c.ok || !got.Equal(c.want) {
				t.Fatalf("AckDue = %v, %v; want %v, %v", got, ok, c.want, c.ok)
			}
		})
	}
}

func TestLawFor(t *testing.T) {
	cases := []struct {
		j    domain.Jurisdiction
		want privacy.Law
	}{{domain.EU, privacy.GDPR}, {domain.UK, privacy.GDPR}, {domain.USCA, privacy.CCPA}, {domain.Other, privacy.GDPR}}
	for _, c := range cases {
		t.Run(c.j.String(), func(t *testing.T) {
			if got := privacy.LawFor(c.j); got != c.want {
				t.Fatalf("LawFor = %v", got)
			}
		})
	}
}
