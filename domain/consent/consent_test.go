package consent_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain"
	"github.com/ledgerline/ledgerline/domain/consent"
	"github.com/ledgerline/ledgerline/domain/domaintest"
)

var (
	now  = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	acct = uuid.MustParse("0195f0a0-0000-7000-8000-000000000001")
	rcpt = consent.Receipt{Method: consent.SettingsPage, PolicyVersion: "2025-10", Actor: acct.String()}
)

func TestEvents(t *testing.T) { domaintest.CheckEvents(t, consent.Events()) }

func TestDefaults(t *testing.T) {
	cases := []struct {
		name string
		j    domain.Jurisdiction
		want map[consent.Purpose]bool
	}{
		{"EU", domain.EU, map[consent.Purpose]bool{consent.Essential: true, consent.Functional: false, consent.Analytics: false, consent.MarketingEmail: false, consent.Advertising: false}},
		{"UK", domain.UK, map[consent.Purpose]bool{consent.Essential: true, consent.Functional: false, consent.Analytics: false, consent.MarketingEmail: false, consent.Advertising: false}},
		{"USCA", domain.USCA, map[consent.Purpose]bool{consent.Essential: true, consent.Functional: true, consent.Analytics: true, consent.MarketingEmail: false, consent.Advertising: false}},
		{"Other", domain.Other, map[consent.Purpose]bool{consent.Essential: true, consent.Functional: true, consent.Analytics: true, consent.MarketingEmail: false, consent.Advertising: false}},
		{"UnknownIsStrictest", domain.Jurisdiction{}, map[consent.Purpose]bool{consent.Essential: true, consent.Functional: false, consent.Analytics: false, consent.MarketingEmail: false, consent.Advertising: false}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := consent.Defaults(c.j); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("Defaults = %v", got)
			}
		})
	}
}

func TestConsents(t *testing.T) {
	usDefaults := consent.DefaultsApplied{AccountID: acct, Jurisdiction: "US-CA", PolicyVersion: "2025-10", At: now,
		Purposes: map[string]bool{"essential": true, "functional": true, "analytics": true, "marketing_email": false, "advertising": false}}
	euDefaults := consent.DefaultsApplied{AccountID: acct, Jurisdiction: "EU", PolicyVersion: "2025-10", At: now,
		Purposes: map[string]bool{"essential": true, "functional": false, "analytics": false, "marketing_email": false, "advertising": false}}
	given := func(p, ver string) consent.Given {
		return consent.Given{AccountID: acct, Purpose: p, Granted: true, Method: "settings_page", PolicyVersion: ver, Actor: acct.String(), At: now}
	}
	withdrawn := func(p string) consent.Withdrawn {
		return consent.Withdrawn{AccountID: acct, Purpose: p, Method: "settings_page", PolicyVersion: "2025-10", Actor: acct.String(), At: now}
	}
	give := func(p consent.Purpose, r consent.Receipt) func(*consent.Consents) error {
		return func(c *consent.Consents) error { return c.Give(p, r, now) }
	}
	withdraw := func(p consent.Purpose, r consent.Receipt) func(*consent.Consents) error {
		return func(c *consent.Consents) error { return c.Withdraw(p, r, now) }
	}
	r2 := rcpt
	r2.PolicyVersion = "2026-03"
	bad := func(f func(*consent.Receipt)) consent.Receipt { r := rcpt; f(&r); return r }
	type C = domaintest.Case[*consent.Consents]
	load := func(h []any) *consent.Consents { return consent.Rehydrate(acct, h) }
	domaintest.Run(t, load, []C{
		{Name: "ApplyDefaultsUSOK", When: func(c *consent.Consents) error { return c.ApplyDefaults(domain.USCA, "2025-10", now) },
			Then: []any{usDefaults}},
		{Name: "ApplyDefaultsEUOK", When: func(c *consent.Consents) error { return c.ApplyDefaults(domain.EU, "2025-10", now) },
			Then: []any{euDefaults}},
		{Name: "ErrApplyDefaultsTwice", Given: []any{euDefaults},
			When: func(c *consent.Consents) error { return c.ApplyDefaults(domain.EU, "2025-10", now) }, Err: consent.ErrDefaultsApplied},
		{Name: "ErrApplyDefaultsNoJurisdiction",
			When: func(c *consent.Consents) error { return c.ApplyDefaults(domain.Jurisdiction{}, "2025-10", now) },
			Err:  &domain.RuleError{Field: "jurisdiction", Rule: "required"}},
		{Name: "GiveMarketingOK", Given: []any{euDefaults}, When: give(consent.MarketingEmail, rcpt), Then: []any{given("marketing_email", "2025-10")}},
		{Name: "GiveAgainSameVersionNoop", Given: []any{euDefaults, given("marketing_email", "2025-10")}, When: give(consent.MarketingEmail, rcpt)},
		{Name: "GiveAgainNewVersionReceipt", Given: []any{euDefaults, given("marketing_email", "2025-10")}, When: give(consent.MarketingEmail, r2),
			Then: []any{given("marketing_email", "2026-03")}},
		{Name: "GiveDefaultOnRecordsReceipt", Given: []any{usDefaults}, When: give(consent.Analytics, rcpt), Then: []any{given("analytics", "2025-10")}},
		{Name: "GiveEssentialNoop", Given: []any{euDefaults}, When: give(consent.Essential, rcpt)},
		{Name: "WithdrawOK", Given: []any{euDefaults, given("advertising", "2025-10")}, When: withdraw(consent.Advertising, rcpt),
			Then: []any{withdrawn("advertising")}},
		{Name: "WithdrawDefaultOnOK", Given: []any{usDefaults}, When: withdraw(consent.Analytics, rcpt), Then: []any{withdrawn("analytics")}},
		{Name: "WithdrawAgainNoop", Given: []any{usDefaults, withdrawn("analytics")}, When: withdraw(consent.Analytics, rcpt)},
		{Name: "ErrWithdrawEssential", Given: []any{euDefaults}, When: withdraw(consent.Essential, rcpt),
			Err: &domain.RuleError{Field: "purpose", Rule: "essential_required"}},
		{Name: "ErrWithdrawEssentialSentinel", When: withdraw(consent.Essential, rcpt), Err: consent.ErrEssentialRequired},
		{Name: "ErrPurposeRequired", When: give(consent.Purpose{}, rcpt), Err: &domain.RuleError{Field: "purpose", Rule: "required"}},
		{Name: "ErrMethodRequired", When: give(consent.Analytics, bad(func(r *consent.Receipt) { r.Method = consent.Method{} })),
			Err: &domain.RuleError{Field: "method", Rule: "required"}},
		{Name: "ErrPolicyVersionRequired", When: withdraw(consent.Analytics, bad(func(r *consent.Receipt) { r.PolicyVersion = "" })),
			Err: &domain.RuleError{Field: "policy_version", Rule: "required"}},
		{Name: "ErrActorRequired", When: give(consent.Analytics, bad(func(r *consent.Receipt) { r.Actor = "" })),
			Err: &domain.RuleError{Field: "actor", Rule: "required"}},
		{Name: "ErrActorIsEmail", When: give(consent.Analytics, bad(func(r *consent.Receipt) { r.Actor = "ada@example.com" })),
			Err: &domain.RuleError{Field: "actor", Rule: "not_personal"}},
		{Name: "AcceptPolicyOK", When: func(c *consent.Consents) error { return c.AcceptPolicy("2026-03", rcpt, now) },
			Then: []any{consent.PolicyAccepted{AccountID: acct, PolicyVersion: "2026-03", Method: "settings_page", Actor: acct.String(), At: now}}},
		{Name: "AcceptPolicyAgainNoop", Given: []any{consent.PolicyAccepted{AccountID: acct, PolicyVersion: "2026-03"}},
			When: func(c *consent.Consents) error { return c.AcceptPolicy("2026-03", rcpt, now) }},
		{Name: "ErrAcceptPolicyNoVersion", When: func(c *consent.Consents) error { return c.AcceptPolicy("", rcpt, now) },
			Err: &domain.RuleError{Field: "policy_version"}},
		{Name: "NotifyOK", When: func(c *consent.Consents) error { return c.NotifyPolicyChange("2026-03", consent.ChannelEmail, now) },
			Then: []any{consent.PolicyChangeNotified{AccountID: acct, PolicyVersion: "2026-03", Channel: "email", At: now}}},
		{Name: "NotifyAgainNoop", Given: []any{consent.PolicyChangeNotified{AccountID: acct, PolicyVersion: "2026-03", Channel: "email"}},
			When: func(c *consent.Consents) error { return c.NotifyPolicyChange("2026-03", consent.ChannelInApp, now) }},
		{Name: "ErrNotifyNoChannel", When: func(c *consent.Consents) error { return c.NotifyPolicyChange("2026-03", consent.Channel{}, now) },
			Err: &domain.RuleError{Field: "channel", Rule: "required"}},
	})
}

func TestState(t *testing.T) {
	cases := []struct {
		name    string
		history []any
		want    map[consent.Purpose]bool
	}{
		{"NoDefaultsIsStrictest", nil, consent.Defaults(domain.Jurisdiction{})},
		{"USDefaultsThenWithdrawAnalyticsAndGiveMarketing", []any{
			consent.DefaultsApplied{Purposes: map[string]bool{"essential": true, "functional": true, "analytics": true}},
			consent.Withdrawn{Purpose: "analytics"}, &consent.Given{Purpose: "marketing_email", Granted: true},
		}, map[consent.Purpose]bool{consent.Essential: true, consent.Functional: true, consent.Analytics: false, consent.MarketingEmail: true, consent.Advertising: false}},
		{"EssentialStaysOnEvenIfAStoredEventSaysOtherwise", []any{
			consent.DefaultsApplied{Purposes: map[string]bool{"essential": false}}, consent.Withdrawn{Purpose: "essential"},
		}, consent.Defaults(domain.EU)},
		{"UnknownPurposeIgnored", []any{consent.Given{Purpose: "telepathy"}}, consent.Defaults(domain.EU)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cs := consent.Rehydrate(acct, c.history)
			got := cs.State()
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("State = %v, want %v", got, c.want)
			}
			got[consent.Advertising] = true
			if cs.Granted(consent.Advertising) != c.want[consent.Advertising] {
				t.Fatal("State must return a copy")
			}
		})
	}
}

func TestPolicy(t *testing.T) {
	h := strings.Repeat("d", 64)
	v1 := consent.PolicyVersionPublished{Version: "2025-10", ContentHash: h, EffectiveAt: now, PublishedAt: now}
	publish := func(p consent.PublishParams) func(*consent.Policy) error {
		return func(pol *consent.Policy) error { return pol.Publish(p, now) }
	}
	later := now.AddDate(0, 1, 0)
	type C = domaintest.Case[*consent.Policy]
	domaintest.Run(t, consent.RehydratePolicy, []C{
		{Name: "PublishOK", When: publish(consent.PublishParams{Version: "2025-10", ContentHash: h, EffectiveAt: now}), Then: []any{v1}},
		{Name: "PublishMaterialOK", Given: []any{v1}, When: publish(consent.PublishParams{Version: "2026-03", Material: true, ContentHash: h, EffectiveAt: later}),
			Then: []any{consent.PolicyVersionPublished{Version: "2026-03", Material: true, ContentHash: h, EffectiveAt: later, PublishedAt: now}}},
		{Name: "ErrDuplicateVersion", Given: []any{v1}, When: publish(consent.PublishParams{Version: "2025-10", ContentHash: h, EffectiveAt: later}),
			Err: consent.ErrVersionPublished},
		{Name: "ErrEffectiveBeforePrevious", Given: []any{v1}, When: publish(consent.PublishParams{Version: "2026-03", ContentHash: h, EffectiveAt: now.Add(-time.Hour)}),
			Err: &domain.RuleError{Field: "effective_at", Rule: "not_before_previous"}},
		{Name: "ErrHash", When: publish(consent.PublishParams{Version: "v", ContentHash: "x", EffectiveAt: now}),
			Err: &domain.RuleError{Field: "content_hash"}},
		{Name: "ErrVersionRequired", When: publish(consent.PublishParams{ContentHash: h, EffectiveAt: now}),
			Err: &domain.RuleError{Field: "version", Rule: "required"}},
		{Name: "ErrEffectiveRequired", When: publish(consent.PublishParams{Version: "v", ContentHash: h}),
			Err: &domain.RuleError{Field: "effective_at", Rule: "required"}},
	})
	p := consent.RehydratePolicy([]any{v1, consent.PolicyVersionPublished{Version: "2026-03", Material: true, EffectiveAt: later}})
	if p.Current(now.Add(-time.Second)) != "" || p.Current(now) != "2025-10" || p.Current(later) != "2026-03" || !p.Material("2026-03") || p.Material("2025-10") {
		t.Fatal("Current/Material")
	}
}

func TestParse(t *testing.T) {
	for _, p := range consent.Purposes() {
		if got, err := consent.ParsePurpose(p.String()); err != nil || got != p {
			t.Fatal(p, err)
		}
	}
	if _, err := consent.ParsePurpose("profiling"); !errors.Is(err, consent.ErrUnknownValue) {
		t.Fatal(err)
	}
	if m, err := consent.ParseMethod("cookie_banner"); err != nil || m != consent.CookieBanner {
		t.Fatal(err)
	}
	if ch, err := consent.ParseChannel("in_app"); err != nil || ch != consent.ChannelInApp {
		t.Fatal(err)
	}
}
