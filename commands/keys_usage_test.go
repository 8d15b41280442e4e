package commands_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/commands"
	"github.com/ledgerline/ledgerline/domain"
	"github.com/ledgerline/ledgerline/domain/apikey"
	"github.com/ledgerline/ledgerline/domain/usage"
)

func TestAPIKeys(t *testing.T) {
	f := newFixture(t)
	acct := f.register(t, "keys@example.com", "EU").AccountID
	res := f.do(t, &commands.IssueAPIKey{AccountID: acct, Name: "ci key", Scopes: []string{"inference"}})
	k := res.Data.(commands.IssueAPIKeyResult)
	if !apikey.WellFormed(k.Secret) || k.Prefix != apikey.PrefixOf(k.Secret) || k.KeyID == uuid.Nil {
		t.Fatalf("issue result: prefix=%s", k.Prefix)
	}
	rot := f.do(t, &commands.RotateAPIKey{KeyID: k.KeyID, AccountID: acct}).Data.(commands.APIKeyResult)
	if rot.Secret == k.Secret || !apikey.WellFormed(rot.Secret) {
		t.Fatal("rotation returned no new secret")
	}
	// Secrets appear in no stored byte and no log line.
	for _, ev := range f.events(t) {
		for _, s := range []string{k.Secret, rot.Secret} {
			if bytes.Contains(ev.Data, []byte(s)) || bytes.Contains(ev.Sealed, []byte(s)) {
				t.Fatalf("%s stores a secret", ev.Type)
			}
		}
	}
	if strings.Contains(f.logs.String(), k.Secret) || strings.Contains(f.logs.String(), rot.Secret) {
		t.Fatal("a secret reached the logs")
	}

	_, err := f.try(&commands.RotateAPIKey{KeyID: k.KeyID, AccountID: uuid.New()})
	wantClass(t, err, commands.ClassNotFound) // someone else's key reads as unknown
	f.do(t, &commands.RevokeAPIKey{KeyID: k.KeyID, Reason: "compromised"})
	_, err = f.try(&commands.RevokeAPIKey{KeyID: k.KeyID, Reason: "compromised"})
	wantClass(t, err, commands.ClassConflict)
	_, err = f.try(&commands.RotateAPIKey{KeyID: k.KeyID})
	wantClass(t, err, commands.ClassConflict)

	_, err = f.try(&commands.IssueAPIKey{AccountID: acct, Name: "x", Scopes: []string{"root"}})
	wantViolation(t, err, "scopes[0]", "scope")
	_, err = f.try(&commands.IssueAPIKey{AccountID: acct, Name: "x", Scopes: []string{}})
	wantViolation(t, err, "scopes", "min")
	_, err = f.try(&commands.IssueAPIKey{AccountID: acct, Name: "x", Scopes: []string{"inference"}, ExpiresAt: ptr(f.clock().Add(-time.Hour))})
	wantViolation(t, err, "expires_at", "in_future")
	_, err = f.try(&commands.IssueAPIKey{AccountID: uuid.New(), Name: "x", Scopes: []string{"inference"}})
	wantClass(t, err, commands.ClassNotFound)
	f.do(t, &commands.SuspendAccount{AccountID: acct, Reason: "abuse"})
	_, err = f.try(&commands.IssueAPIKey{AccountID: acct, Name: "x", Scopes: []string{"inference"}})
	wantClass(t, err, commands.ClassConflict)
}

func ptr[T any](v T) *T { return &v }

func usageCmd(key uuid.UUID, req string) *commands.RecordUsage {
	return &commands.RecordUsage{KeyID: key, RequestID: req, Provider: "openai", Model: "gpt-5", InputTokens: 100,
		OutputTokens: 50, CostMicros: 1200, Status: "ok", LatencyMs: 300, ClientIP: "203.0.113.9"}
}

func issueKey(t *testing.T, f *fixture, acct uuid.UUID) uuid.UUID {
	t.Helper()
	return f.do(t, &commands.IssueAPIKey{AccountID: acct, Name: "k", Scopes: []string{"inference"}}).Data.(commands.IssueAPIKeyResult).KeyID
}

func TestRecordUsage(t *testing.T) {
	f := newFixture(t)
	acct := f.register(t, "usage@example.com", "other").AccountID
	key := issueKey(t, f, acct)

	r1 := f.do(t, usageCmd(key, "req-1"))
	out := r1.Data.(commands.RecordUsageResult)
	if out.Duplicate || out.AccountID != acct || out.EventID != usage.EventID(key, "req-1") || r1.Position == 0 {
		t.Fatalf("first record: %+v", out)
	}
	// A repeat, even a day later (another day stream), is a duplicate and changes nothing.
	f.advance(26 * time.Hour)
	for i := 0; i < 2; i++ {
		r := f.do(t, usageCmd(key, "req-1"))
		if !r.Data.(commands.RecordUsageResult).Duplicate {
			t.Fatal("repeat not reported as duplicate")
		}
	}
	if n := f.countType(t, usage.TypeRecorded); n != 1 {
		t.Fatalf("%d usage events, want 1", n)
	}

	_, err := f.try(usageCmd(uuid.New(), "req-2"))
	wantClass(t, err, commands.ClassNotFound)
	if !errors.Is(err, domain.ErrNotFound) {
		t.Fatal(err)
	}
	bad := usageCmd(key, "req-3")
	bad.CostMicros = -1
	_, err = f.try(bad)
	wantViolation(t, err, "cost_micros", "gte")
	bad = usageCmd(key, "req-3")
	bad.Status = "great"
	_, err = f.try(bad)
	wantViolation(t, err, "status", "usage_status")
	bad = usageCmd(key, "req-3")
	bad.ClientIP = "not-an-ip"
	_, err = f.try(bad)
	wantViolation(t, err, "client_ip", "ip")
}

func TestRecordUsageBatch(t *testing.T) {
	f := newFixture(t)
	acct := f.register(t, "batch@example.com", "other").AccountID
	key := issueKey(t, f, acct)
	f.do(t, usageCmd(key, "old"))

	invalid := *usageCmd(key, "neg")
	invalid.InputTokens = -5
	yesterday := f.clock().Add(-24 * time.Hour)
	late := *usageCmd(key, "late")
	late.OccurredAt = &yesterday
	batch := &commands.RecordUsageBatch{Records: []commands.RecordUsage{
		*usageCmd(key, "a"), *usageCmd(key, "b"), *usageCmd(key, "a"), *usageCmd(key, "old"),
		invalid, *usageCmd(uuid.New(), "c"), late,
	}}
	before := len(f.events(t))
	res := f.do(t, batch)
	out := res.Data.(commands.RecordUsageBatchResult)
	want := []string{commands.UsageRecorded, commands.UsageRecorded, commands.UsageDuplicate, commands.UsageDuplicate,
		commands.UsageInvalid, commands.UsageUnknownKey, commands.UsageRecorded}
	for i, w := range want {
		if out.Results[i].Status != w {
			t.Fatalf("record %d: status %s, want %s (%+v)", i, out.Results[i].Status, w, out.Results[i])
		}
	}
	if out.Recorded != 3 || out.Duplicates != 2 || out.Rejected != 2 {
		t.Fatalf("counts: %+v", out)
	}
	if v := out.Results[4].Violations; len(v) != 1 || v[0].Field != "input_tokens" {
		t.Fatalf("violations: %+v", v)
	}
	if got := len(f.events(t)) - before; got != 3 {
		t.Fatalf("batch stored %d events, want 3", got)
	}
	// The late record went to yesterday's stream.
	if evs := f.stream(t, usage.Stream(acct, yesterday)); len(evs) != 1 {
		t.Fatalf("yesterday's stream holds %d events", len(evs))
	}
	// The whole batch again: all duplicates, nothing stored.
	again := f.do(t, batch).Data.(commands.RecordUsageBatchResult)
	if again.Recorded != 0 || again.Duplicates != 5 {
		t.Fatalf("repeat batch: %+v", again)
	}
	_, err := f.try(&commands.RecordUsageBatch{})
	wantViolation(t, err, "records", "required")
}

func TestUsageBatchGroupsAppendsPerStream(t *testing.T) {
	counting := &countingStore{}
	f := newFixture(t)
	counting.Store = f.store
	svc, err := commands.New(commands.Deps{Store: counting, Codec: f.codec, Shredder: f.sealer, Pepper: pepper, Now: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	acct := f.register(t, "group@example.com", "other").AccountID
	key := issueKey(t, f, acct)
	var recs []commands.RecordUsage
	for i := 0; i < 200; i++ {
		recs = append(recs, *usageCmd(key, "r-"+string(rune('a'+i%26))+strings.Repeat("x", i/26)))
	}
	if _, err := svc.Dispatch(actorCtx(), &commands.RecordUsageBatch{Records: recs}); err != nil {
		t.Fatal(err)
	}
	if counting.appends.Load() != 1 {
		t.Fatalf("%d appends for one stream, want 1", counting.appends.Load())
	}
}

var _ = context.Background
