package privacy_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain"
	"github.com/ledgerline/ledgerline/domain/domaintest"
	"github.com/ledgerline/ledgerline/domain/privacy"
)

func TestPlaceHold(t *testing.T) {
	review := now.AddDate(0, 6, 0)
	valid := privacy.HoldParams{HoldID: hold1, Subject: subj, Categories: []privacy.Category{privacy.Payments, privacy.TaxRecords},
		Basis: privacy.Dispute, Reference: "dp_1", ReviewAt: review}
	with := func(f func(*privacy.HoldParams)) privacy.HoldParams { p := valid; f(&p); return p }
	cases := []struct {
		name string
		p    privacy.HoldParams
		want []any
		err  error
	}{
		{"OK", valid, []any{privacy.HoldPlaced{HoldID: hold1, Subject: subj, Categories: []string{"payments", "tax_records"},
			Basis: "dispute", Reference: "dp_1", ReviewAt: review, PlacedAt: now}}, nil},
		{"OKTaxWithoutReference", with(func(p *privacy.HoldParams) { p.Basis, p.Reference = privacy.TaxRetention, "" }),
			[]any{privacy.HoldPlaced{HoldID: hold1, Subject: subj, Categories: []string{"payments", "tax_records"},
				Basis: "tax_retention", ReviewAt: review, PlacedAt: now}}, nil},
		{"ErrHoldID", with(func(p *privacy.HoldParams) { p.HoldID = uuid.Nil }), nil, &domain.RuleError{Field: "hold_id"}},
		{"ErrSubject", with(func(p *privacy.HoldParams) { p.Subject = uuid.Nil }), nil, &domain.RuleError{Field: "subject_id"}},
		{"ErrNoCategories", with(func(p *privacy.HoldParams) { p.Categories = nil }), nil, &domain.RuleError{Field: "categories", Rule: "required"}},
		{"ErrDuplicateCategory", with(func(p *privacy.HoldParams) { p.Categories = []privacy.Category{privacy.Usage, privacy.Usage} }), nil,
			&domain.RuleError{Field: "categories", Rule: "unique"}},
		{"ErrZeroCategory", with(func(p *privacy.HoldParams) { p.Categories = []privacy.Category{{}} }), nil,
			&domain.RuleError{Field: "categories", Rule: "known_category"}},
		{"ErrBasis", with(func(p *privacy.HoldParams) { p.Basis = privacy.Basis{} }), nil, &domain.RuleError{Field: "basis"}},
		{"ErrDisputeNeedsReference", with(func(p *privacy.HoldParams) { p.Reference = "" }), nil, &domain.RuleError{Field: "reference", Rule: "required"}},
		{"ErrReviewInPast", with(func(p *privacy.HoldParams) { p.ReviewAt = now }), nil, &domain.RuleError{Field: "review_at", Rule: "in_future"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, err := privacy.PlaceHold(c.p, now)
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("error = %v, want %v", err, c.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(h.Changes(), c.want) {
				t.Fatalf("PlaceHold = %#v, %v", h.Changes(), err)
			}
			if !h.Active() || !h.Covers(privacy.Payments) || h.Covers(privacy.Profile) || h.ID() != hold1 {
				t.Fatal("state after place")
			}
		})
	}
}

func TestHold(t *testing.T) {
	placed := privacy.HoldPlaced{HoldID: hold1, Subject: subj, Categories: []string{"payments"}, Basis: "dispute", Reference: "dp_1", ReviewAt: now.AddDate(0, 6, 0)}
	released := privacy.HoldReleased{HoldID: hold1, Subject: subj, ReleasedAt: now}
	type C = domaintest.Case[*privacy.Hold]
	load := func(h []any) *privacy.Hold { return privacy.RehydrateHold(hold1, h) }
	release := func(h *privacy.Hold) error { return h.Release(now) }
	domaintest.Run(t, load, []C{
		{Name: "ReleaseOK", Given: []any{placed}, When: release, Then: []any{released}},
		{Name: "ErrReleaseTwice", Given: []any{placed, released}, When: release, Err: privacy.ErrHoldReleased},
		{Name: "ErrReleaseUnknown", When: release, Err: domain.ErrNotFound},
	})
	h := privacy.RehydrateHold(hold1, []any{placed})
	if !h.Active() || h.ReviewDue(now) || !h.ReviewDue(placed.ReviewAt) || h.Basis() != privacy.Dispute || h.Subject() != subj {
		t.Fatal("hold state")
	}
	if err := h.Release(now.Add(time.Hour)); err != nil || h.Active() || h.Covers(privacy.Payments) {
		t.Fatal("released hold still active", err)
	}
}

func TestParse(t *testing.T) {
	type parseCase struct {
		name string
		f    func() error
	}
	for _, c := range []parseCase{
		{"Kind", func() error { _, err := privacy.ParseKind("erasure"); return err }},
		{"Law", func() error { _, err := privacy.ParseLaw("CCPA"); return err }},
		{"Channel", func() error { _, err := privacy.ParseChannel("support"); return err }},
		{"ExtensionReason", func() error { _, err := privacy.ParseExtensionReason("complexity"); return err }},
		{"RejectReason", func() error { _, err := privacy.ParseRejectReason("excessive"); return err }},
		{"Category", func() error { _, err := privacy.ParseCategory("tax_records"); return err }},
		{"Basis", func() error { _, err := privacy.ParseBasis("tax_retention"); return err }},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := c.f(); err != nil {
				t.Fatal(err)
			}
		})
	}
	if _, err := privacy.ParseKind("portability"); !errors.Is(err, privacy.ErrUnknownValue) {
		t.Fatal(err)
	}
}
