package commands_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/commands"
	"github.com/ledgerline/ledgerline/domain/account"
	"github.com/ledgerline/ledgerline/domain/billing"
	"github.com/ledgerline/ledgerline/domain/consent"
	"github.com/ledgerline/ledgerline/eventstore"
)

func TestNewRejectsMissingDeps(t *testing.T) {
	reg, _ := commands.NewRegistry()
	sealer := eventstore.NewSealer(eventstore.NewMemVault(eventstore.NewMemKeyring()), 0)
	codec, _ := eventstore.NewCodec(reg, sealer)
	ok := commands.Deps{Store: eventstore.NewMemStore(), Codec: codec, Shredder: sealer, Pepper: pepper}
	cases := []struct {
		name string
		f    func(*commands.Deps)
	}{
		{"ErrStore", func(d *commands.Deps) { d.Store = nil }},
		{"ErrCodec", func(d *commands.Deps) { d.Codec = nil }},
		{"ErrShredder", func(d *commands.Deps) { d.Shredder = nil }},
		{"ErrPepper", func(d *commands.Deps) { d.Pepper = nil }},
		{"ErrCredits", func(d *commands.Deps) { d.NewUserCredits = -1 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := ok
			c.f(&d)
			if _, err := commands.New(d); err == nil {
				t.Fatal("New accepted bad deps")
			}
		})
	}
	if _, err := commands.New(ok); err != nil {
		t.Fatal(err)
	}
}

// The fraud hash is taken over account.NormaliseEmail, so every spelling of
// one mailbox hashes alike and a different mailbox does not.
func TestEmailHashIgnoresSpelling(t *testing.T) {
	hash := func(e string) string { return eventstore.EmailHash(pepper, account.NormaliseEmail(e)) }
	base := hash("ada.lovelace@gmail.com")
	for _, e := range []string{"Ada.Lovelace@GMail.com", "  ada.lovelace@gmail.com\t", "ada.lovelace+promo@gmail.com",
		"a.d.a.l.o.v.e.l.a.c.e@gmail.com", "adalovelace@gmail.com", "Ada.Lovelace+x@googlemail.com"} {
		if hash(e) != base {
			t.Errorf("%q hashes apart from its mailbox", e)
		}
	}
	work := hash("ada.lovelace@example.com")
	if hash("Ada.Lovelace+billing@Example.com") != work {
		t.Error("+tag not dropped for a non-Gmail address")
	}
	for _, e := range []string{"adalovelace@example.com", "ada.lovelace@gmail.co", "ada.lovelac@example.com"} {
		if hash(e) == work {
			t.Errorf("%q collides with ada.lovelace@example.com", e)
		}
	}
}

func TestRegisterAccount(t *testing.T) {
	valid := func() *commands.RegisterAccount {
		return &commands.RegisterAccount{Email: "ada@example.com", Name: "Ada", AgeConfirmed: true, Region: "gb",
			Jurisdiction: "UK", PolicyVersion: "2026-01"}
	}
	cases := []struct {
		name        string
		mut         func(*commands.RegisterAccount)
		field, rule string
		sentinel    error
	}{
		{"ErrEmailRequired", func(c *commands.RegisterAccount) { c.Email = "" }, "email", "required", nil},
		{"ErrEmailFormat", func(c *commands.RegisterAccount) { c.Email = "not-an-email" }, "email", "email", nil},
		{"ErrJurisdiction", func(c *commands.RegisterAccount) { c.Jurisdiction = "mars" }, "jurisdiction", "jurisdiction", nil},
		{"ErrRegion", func(c *commands.RegisterAccount) { c.Region = "GBR" }, "region", "len", nil},
		{"ErrPolicyVersion", func(c *commands.RegisterAccount) { c.PolicyVersion = "" }, "policy_version", "required", nil},
		{"ErrAgeNotConfirmed", func(c *commands.RegisterAccount) { c.AgeConfirmed = false }, "age_confirmed", "min_age_13", account.ErrAgeNotConfirmed},
		{"ErrUnderAge", func(c *commands.RegisterAccount) { c.BirthYear = 2020 }, "birth_year", "min_age_13", account.ErrUnderAge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			cmd := valid()
			c.mut(cmd)
			_, err := f.try(cmd)
			wantViolation(t, err, c.field, c.rule)
			if c.sentinel != nil && !errors.Is(err, c.sentinel) {
				t.Fatalf("error %v does not match %v", err, c.sentinel)
			}
			if strings.Contains(err.Error(), "ada@") || strings.Contains(err.Error(), "mars") {
				t.Fatalf("error echoes the input: %v", err)
			}
			if n := len(f.events(t)); n != 0 {
				t.Fatalf("refused registration stored %d events", n)
			}
		})
	}

	t.Run("OKGrantsCreditsOnce", func(t *testing.T) {
		f := newFixture(t)
		first := f.register(t, "Ada.Lovelace@gmail.com", "EU")
		if !first.CreditsGranted || first.CreditsMicros != commands.DefaultNewUserCredits {
			t.Fatalf("first registration: %+v", first)
		}
		second := f.register(t, "adalovelace+promo@googlemail.com", "EU")
		if second.CreditsGranted || second.AccountID == first.AccountID {
			t.Fatalf("variant of a known address got credits: %+v", second)
		}
		if n := f.countType(t, billing.TypeCreditsGranted); n != 1 {
			t.Fatalf("credits granted %d times", n)
		}
		// The pepper and the plaintext email never reach the public payload.
		for _, ev := range f.events(t) {
			if strings.Contains(strings.ToLower(string(ev.Data)), "lovelace") || strings.Contains(string(ev.Data), string(pepper)) {
				t.Fatalf("public data of %s leaks: %s", ev.Type, ev.Data)
			}
		}
	})

	t.Run("ConsentDefaultsByJurisdiction", func(t *testing.T) {
		f := newFixture(t)
		eu := f.register(t, "eu@example.com", "EU")
		other := f.register(t, "us@example.com", "other")
		for _, c := range []struct {
			id        uuid.UUID
			analytics bool
		}{{eu.AccountID, false}, {other.AccountID, true}} {
			evs := f.stream(t, consent.Stream(c.id))
			if len(evs) != 1 {
				t.Fatalf("consent stream: %d events", len(evs))
			}
			d := evs[0].Payload.(consent.DefaultsApplied)
			if d.Purposes["analytics"] != c.analytics || d.Purposes["marketing_email"] || d.Purposes["advertising"] || !d.Purposes["essential"] {
				t.Fatalf("defaults: %+v", d.Purposes)
			}
		}
	})
}

func TestAccountLifecycle(t *testing.T) {
	f := newFixture(t)
	id := f.register(t, "life@example.com", "EU").AccountID
	f.do(t, &commands.SuspendAccount{AccountID: id, Reason: "fraud"})
	_, err := f.try(&commands.SuspendAccount{AccountID: id, Reason: "fraud"})
	wantClass(t, err, commands.ClassConflict)
	_, err = f.try(&commands.SuspendAccount{AccountID: id, Reason: "whim"})
	wantViolation(t, err, "reason", "suspend_reason")
	f.do(t, &commands.ReinstateAccount{AccountID: id})
	name := "New Name"
	f.do(t, &commands.RectifyProfile{AccountID: id, Name: &name})
	_, err = f.try(&commands.RectifyProfile{AccountID: id})
	wantViolation(t, err, "fields", "required")
	f.do(t, &commands.ChangeEmail{AccountID: id, Email: "life2@example.com"})
	_, err = f.try(&commands.ChangeEmail{AccountID: id, Email: "LIFE2@example.com"})
	wantViolation(t, err, "email", "unchanged")
	// The new address is claimed: registering it later grants nothing.
	if r := f.register(t, "life2@example.com", "EU"); r.CreditsGranted {
		t.Fatal("changed-to address granted credits to a new registration")
	}
	f.do(t, &commands.CloseAccount{AccountID: id, Reason: "customer_request"})
	_, err = f.try(&commands.ReinstateAccount{AccountID: id})
	wantClass(t, err, commands.ClassConflict)
	_, err = f.try(&commands.SuspendAccount{AccountID: uuid.New(), Reason: "fraud"})
	wantClass(t, err, commands.ClassNotFound)
	_, err = f.try(&commands.SuspendAccount{Reason: "fraud"})
	wantViolation(t, err, "account_id", "required")
}

func TestMetadataAndLogsCarryNoPersonalData(t *testing.T) {
	f := newFixture(t)
	ctx := commands.WithActor(context.Background(), commands.Actor{ID: "staff-9", Role: "admin", RequestID: "r-42", CorrelationID: "corr-7"})
	res, err := f.svc.Dispatch(ctx, commands.RegisterAccount{Email: "canary.mail@example.com", Name: "Canary Name",
		AgeConfirmed: true, Region: "FR", Jurisdiction: "EU", PolicyVersion: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Position == 0 {
		t.Fatal("no position returned")
	}
	for _, ev := range f.events(t) {
		if ev.Meta.Actor != "staff-9" || ev.Meta.ActorRole != "admin" || ev.Meta.RequestID != "r-42" || ev.Meta.CorrelationID != "corr-7" {
			t.Fatalf("metadata of %s: %+v", ev.Type, ev.Meta)
		}
	}
	_, _ = f.svc.Dispatch(ctx, commands.RegisterAccount{Email: "canary.mail@example.com", Name: "Canary Name", Region: "FR", Jurisdiction: "EU", PolicyVersion: "v1"})
	logs := f.logs.String()
	if !strings.Contains(logs, "RegisterAccount") || !strings.Contains(logs, "age_confirmed:min_age_13") {
		t.Fatalf("logs lack the command line: %s", logs)
	}
	for _, canary := range []string{"canary", "Canary"} {
		if strings.Contains(logs, canary) {
			t.Fatalf("logs hold personal data: %s", logs)
		}
	}
}
