package account_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain"
	"github.com/ledgerline/ledgerline/domain/account"
	"github.com/ledgerline/ledgerline/domain/domaintest"
)

var (
	now   = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	id    = uuid.MustParse("0195f0a0-0000-7000-8000-000000000001")
	hashA = strings.Repeat("a", 64)
	hashB = strings.Repeat("b", 64)
)

func validParams() account.RegisterParams {
	return account.RegisterParams{
		AccountID: id, Email: "Ada@Example.com", Name: "Ada Lovelace", EmailHash: hashA,
		AgeConfirmed: true, Region: "gb", Jurisdiction: domain.UK,
	}
}

func registered() account.Registered {
	return account.Registered{
		AccountID: id, EmailHash: hashA, Region: "GB", Jurisdiction: "UK", AgeConfirmed: true,
		RegisteredAt: now, Personal: account.RegisteredPersonal{Email: "Ada@Example.com", Name: "Ada Lovelace"},
	}
}

func TestEvents(t *testing.T) { domaintest.CheckEvents(t, account.Events()) }

func TestRegister(t *testing.T) {
	with := func(f func(*account.RegisterParams)) account.RegisterParams {
		p := validParams()
		f(&p)
		return p
	}
	cases := []struct {
		name string
		p    account.RegisterParams
		err  error
	}{
		{"OK", validParams(), nil},
		{"OKBirthYearThirteenYearsAgo", with(func(p *account.RegisterParams) { p.BirthYear = 2013 }), nil},
		{"OKNoName", with(func(p *account.RegisterParams) { p.Name = "" }), nil},
		{"ErrAgeNotConfirmed", with(func(p *account.RegisterParams) { p.AgeConfirmed = false }),
			&domain.RuleError{Field: "age_confirmed", Rule: "min_age_13"}},
		{"ErrAgeNotConfirmedSentinel", with(func(p *account.RegisterParams) { p.AgeConfirmed = false }), account.ErrAgeNotConfirmed},
		{"ErrUnderAge", with(func(p *account.RegisterParams) { p.BirthYear = 2014 }),
			&domain.RuleError{Field: "birth_year", Rule: "min_age_13"}},
		{"ErrUnderAgeSentinel", with(func(p *account.RegisterParams) { p.BirthYear = 2020 }), account.ErrUnderAge},
		{"ErrUnderAgeEvenIfConfirmed", with(func(p *account.RegisterParams) { p.BirthYear = 2015; p.AgeConfirmed = true }), account.ErrUnderAge},
		{"ErrBirthYearInFuture", with(func(p *account.RegisterParams) { p.BirthYear = 2030 }),
			&domain.RuleError{Field: "birth_year", Rule: "valid_year"}},
		{"ErrAccountIDRequired", with(func(p *account.RegisterParams) { p.AccountID = uuid.Nil }),
			&domain.RuleError{Field: "account_id", Rule: "required"}},
		{"ErrEmailRequired", with(func(p *account.RegisterParams) { p.Email = "  " }),
			&domain.RuleError{Field: "email", Rule: "required"}},
		{"ErrEmailFormat", with(func(p *account.RegisterParams) { p.Email = "ada.example.com" }),
			&domain.RuleError{Field: "email", Rule: "email_format"}},
		{"ErrEmailNoDomainDot", with(func(p *account.RegisterParams) { p.Email = "ada@localhost" }), account.ErrInvalidEmail},
		{"ErrEmailTwoAts", with(func(p *account.RegisterParams) { p.Email = "a@b@example.com" }), account.ErrInvalidEmail},
		{"ErrEmailSpace", with(func(p *account.RegisterParams) { p.Email = "a da@example.com" }), account.ErrInvalidEmail},
		{"ErrEmailHash", with(func(p *account.RegisterParams) { p.EmailHash = "ABC" }),
			&domain.RuleError{Field: "email_hash", Rule: "sha256_hex"}},
		{"ErrNameTooLong", with(func(p *account.RegisterParams) { p.Name = strings.Repeat("x", 201) }),
			&domain.RuleError{Field: "name", Rule: "max_length"}},
		{"ErrNameControl", with(func(p *account.RegisterParams) { p.Name = "a\x00b" }),
			&domain.RuleError{Field: "name", Rule: "no_control_chars"}},
		{"ErrRegionRequired", with(func(p *account.RegisterParams) { p.Region = "" }),
			&domain.RuleError{Field: "region", Rule: "required"}},
		{"ErrRegionFormat", with(func(p *account.RegisterParams) { p.Region = "GBR" }),
			&domain.RuleError{Field: "region", Rule: "iso3166_alpha2"}},
		{"ErrJurisdictionRequired", with(func(p *account.RegisterParams) { p.Jurisdiction = domain.Jurisdiction{} }),
			&domain.RuleError{Field: "jurisdiction", Rule: "required"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := account.Register(c.p, now)
			if c.err != nil {
				if !errors.Is(err, c.err) || !errors.Is(err, domain.ErrRule) {
					t.Fatalf("error = %v, want %v", err, c.err)
				}
				if strings.Contains(err.Error(), "example.com") || strings.Contains(err.Error(), "Ada") {
					t.Fatalf("error leaks personal data: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if got := a.Changes(); len(got) != 1 {
				t.Fatalf("changes = %v", got)
			}
			if a.ID() != id || a.Version() != 0 || !a.Active() || a.Jurisdiction() != domain.UK || a.Region() != "GB" {
				t.Fatalf("state after register: %+v", a)
			}
		})
	}
	a, _ := account.Register(validParams(), now)
	if got := a.Changes(); !reflect.DeepEqual(got, []any{registered()}) {
		t.Fatalf("changes = %#v", got)
	}
}

func TestRegisteredPublicPartHoldsNoPersonalData(t *testing.T) {
	back := domaintest.RoundTrip(t, registered()).(account.Registered)
	if back.Personal != (account.RegisteredPersonal{}) {
		t.Fatalf("personal part travelled in the public payload: %+v", back.Personal)
	}
	if back.EmailHash != hashA || back.AccountID != id {
		t.Fatalf("public part lost: %+v", back)
	}
}

func TestCommands(t *testing.T) {
	later := now.Add(time.Hour)
	name := "Ada King"
	empty := ""
	reqID := uuid.MustParse("0195f0a0-0000-7000-8000-0000000000aa")
	suspended := account.Suspended{AccountID: id, Reason: "fraud", SuspendedAt: now}
	closed := account.Closed{AccountID: id, Reason: "customer_request", ClosedAt: now}
	erased := account.Erased{AccountID: id, ErasedAt: now}
	load := func(h []any) *account.Account { return account.Rehydrate(id, h) }
	type C = domaintest.Case[*account.Account]
	domaintest.Run(t, load, []C{
		{Name: "ChangeEmailOK", Given: []any{registered()},
			When: func(a *account.Account) error { return a.ChangeEmail("new@example.org", hashB, later) },
			Then: []any{account.EmailChanged{AccountID: id, EmailHash: hashB, ChangedAt: later,
				Personal: account.EmailChangedPersonal{Email: "new@example.org"}}}},
		{Name: "ChangeEmailWhileSuspendedOK", Given: []any{registered(), suspended},
			When: func(a *account.Account) error { return a.ChangeEmail("new@example.org", hashB, later) },
			Then: []any{account.EmailChanged{AccountID: id, EmailHash: hashB, ChangedAt: later,
				Personal: account.EmailChangedPersonal{Email: "new@example.org"}}}},
		{Name: "ErrChangeEmailUnchanged", Given: []any{registered()},
			When: func(a *account.Account) error { return a.ChangeEmail("ada@example.com", hashA, later) },
			Err:  &domain.RuleError{Field: "email", Rule: "unchanged"}},
		{Name: "ErrChangeEmailInvalid", Given: []any{registered()},
			When: func(a *account.Account) error { return a.ChangeEmail("nope", hashB, later) },
			Err:  account.ErrInvalidEmail},
		{Name: "ErrChangeEmailNotRegistered", Given: nil,
			When: func(a *account.Account) error { return a.ChangeEmail("new@example.org", hashB, later) },
			Err:  domain.ErrNotFound},
		{Name: "ErrChangeEmailClosed", Given: []any{registered(), closed},
			When: func(a *account.Account) error { return a.ChangeEmail("new@example.org", hashB, later) },
			Err:  account.ErrClosed},
		{Name: "RectifyOK", Given: []any{registered()},
			When: func(a *account.Account) error {
				return a.Rectify(account.RectifyParams{Name: &name, RequestID: reqID}, later)
			},
			Then: []any{account.ProfileRectified{AccountID: id, Fields: []string{"name"}, RequestID: reqID,
				RectifiedAt: later, Personal: account.ProfileRectifiedPersonal{Name: name}}}},
		{Name: "RectifyClearNameOK", Given: []any{registered()},
			When: func(a *account.Account) error { return a.Rectify(account.RectifyParams{Name: &empty}, later) },
			Then: []any{account.ProfileRectified{AccountID: id, Fields: []string{"name"}, RectifiedAt: later}}},
		{Name: "ErrRectifyNothing", Given: []any{registered()},
			When: func(a *account.Account) error { return a.Rectify(account.RectifyParams{}, later) },
			Err:  &domain.RuleError{Field: "fields", Rule: "required"}},
		{Name: "ErrRectifyErased", Given: []any{registered(), closed, erased},
			When: func(a *account.Account) error { return a.Rectify(account.RectifyParams{Name: &name}, later) },
			Err:  account.ErrErased},
		{Name: "SuspendOK", Given: []any{registered()},
			When: func(a *account.Account) error { return a.Suspend(account.SuspendFraud, now) },
			Then: []any{suspended}},
		{Name: "ErrSuspendTwice", Given: []any{registered(), suspended},
			When: func(a *account.Account) error { return a.Suspend(account.SuspendAbuse, now) },
			Err:  account.ErrSuspended},
		{Name: "ErrSuspendNoReason", Given: []any{registered()},
			When: func(a *account.Account) error { return a.Suspend(account.SuspendReason{}, now) },
			Err:  &domain.RuleError{Field: "reason", Rule: "required"}},
		{Name: "ErrSuspendClosed", Given: []any{registered(), closed},
			When: func(a *account.Account) error { return a.Suspend(account.SuspendFraud, now) },
			Err:  domain.ErrStateConflict},
		{Name: "ReinstateOK", Given: []any{registered(), suspended},
			When: func(a *account.Account) error { return a.Reinstate(later) },
			Then: []any{account.Reinstated{AccountID: id, ReinstatedAt: later}}},
		{Name: "ErrReinstateActive", Given: []any{registered()},
			When: func(a *account.Account) error { return a.Reinstate(later) },
			Err:  account.ErrNotSuspended},
		{Name: "ErrReinstateClosed", Given: []any{registered(), suspended, closed},
			When: func(a *account.Account) error { return a.Reinstate(later) },
			Err:  account.ErrClosed},
		{Name: "CloseOK", Given: []any{registered()},
			When: func(a *account.Account) error { return a.Close(account.CloseCustomerRequest, now) },
			Then: []any{closed}},
		{Name: "CloseSuspendedOK", Given: []any{registered(), suspended},
			When: func(a *account.Account) error { return a.Close(account.CloseCustomerRequest, now) },
			Then: []any{closed}},
		{Name: "ErrCloseTwice", Given: []any{registered(), closed},
			When: func(a *account.Account) error { return a.Close(account.CloseAdmin, now) },
			Err:  account.ErrClosed},
		{Name: "ErrCloseNoReason", Given: []any{registered()},
			When: func(a *account.Account) error { return a.Close(account.CloseReason{}, now) },
			Err:  &domain.RuleError{Field: "reason", Rule: "required"}},
		{Name: "EraseClosedOK", Given: []any{registered(), closed},
			When: func(a *account.Account) error { return a.Erase(uuid.Nil, now) },
			Then: []any{erased}},
		{Name: "EraseActiveOK", Given: []any{registered()},
			When: func(a *account.Account) error { return a.Erase(reqID, now) },
			Then: []any{account.Erased{AccountID: id, RequestID: reqID, ErasedAt: now}}},
		{Name: "ErrEraseTwice", Given: []any{registered(), closed, erased},
			When: func(a *account.Account) error { return a.Erase(uuid.Nil, now) },
			Err:  account.ErrErased},
		{Name: "ErrEraseUnknown", Given: nil,
			When: func(a *account.Account) error { return a.Erase(uuid.Nil, now) },
			Err:  account.ErrNotRegistered},
		{Name: "PointerEventsApplyToo", Given: []any{ptr(registered()), &closed},
			When: func(a *account.Account) error { return a.Suspend(account.SuspendFraud, now) },
			Err:  account.ErrClosed},
	})
}

func ptr[T any](v T) *T { return &v }

func TestRehydrateVersionAndState(t *testing.T) {
	a := account.Rehydrate(id, []any{registered(), account.EmailChanged{AccountID: id, EmailHash: hashB}, struct{}{}})
	if a.Version() != 3 || a.EmailHash() != hashB || !a.Active() || len(a.Changes()) != 0 {
		t.Fatalf("version=%d hash=%s active=%v", a.Version(), a.EmailHash(), a.Active())
	}
	if err := a.Suspend(account.SuspendSecurity, now); err != nil {
		t.Fatal(err)
	}
	if a.Version() != 3 || len(a.Changes()) != 1 || !a.Suspended() {
		t.Fatalf("record must not bump the loaded version")
	}
	a.ClearChanges()
	if len(a.Changes()) != 0 {
		t.Fatal("ClearChanges")
	}
}

func TestReasonsParse(t *testing.T) {
	if r, err := account.ParseSuspendReason("non_payment"); err != nil || r != account.SuspendNonPayment {
		t.Fatal(r, err)
	}
	if _, err := account.ParseSuspendReason("whim"); !errors.Is(err, account.ErrUnknownReason) {
		t.Fatal(err)
	}
	if r, err := account.ParseCloseReason("erasure_request"); err != nil || r != account.CloseErasureRequest {
		t.Fatal(r, err)
	}
	if _, err := account.ParseCloseReason(""); err == nil {
		t.Fatal("empty reason parsed")
	}
}
