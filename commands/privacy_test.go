package commands_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/commands"
	"github.com/ledgerline/ledgerline/domain/account"
	"github.com/ledgerline/ledgerline/domain/privacy"
)

func TestPrivacyRequestDeadlines(t *testing.T) {
	f := newFixture(t)
	eu := f.register(t, "gdpr@example.com", "EU").AccountID
	ca := f.register(t, "ccpa@example.com", "US-CA").AccountID
	now := f.clock()

	r := f.do(t, &commands.ReceivePrivacyRequest{SubjectID: eu, Kind: "access", Channel: "web_form", Details: "please send my data"}).Data.(commands.PrivacyRequestResult)
	if r.Law != "GDPR" || !r.DueAt.Equal(now.AddDate(0, 1, 0)) || r.Status != commands.RequestOpen {
		t.Fatalf("GDPR request: %+v", r)
	}
	c := f.do(t, &commands.ReceivePrivacyRequest{SubjectID: ca, Kind: "erasure", Channel: "email"}).Data.(commands.PrivacyRequestResult)
	if c.Law != "CCPA" || !c.DueAt.Equal(now.AddDate(0, 0, 45)) {
		t.Fatalf("CCPA request: %+v", c)
	}
	f.do(t, &commands.AcknowledgeRequest{RequestID: r.RequestID})
	_, err := f.try(&commands.AcknowledgeRequest{RequestID: r.RequestID})
	wantClass(t, err, commands.ClassConflict)
	ext := f.do(t, &commands.ExtendRequest{RequestID: r.RequestID, Reason: "complexity", NoticeSentAt: now}).Data.(commands.PrivacyRequestResult)
	if !ext.DueAt.Equal(now.AddDate(0, 3, 0)) {
		t.Fatalf("extended due %v", ext.DueAt)
	}
	_, err = f.try(&commands.ExtendRequest{RequestID: r.RequestID, Reason: "complexity", NoticeSentAt: now})
	wantClass(t, err, commands.ClassConflict)
	_, err = f.try(&commands.ExtendRequest{RequestID: r.RequestID, Reason: "boredom", NoticeSentAt: now})
	wantViolation(t, err, "reason", "extension_reason")
	f.do(t, &commands.RejectRequest{RequestID: c.RequestID, Reason: "identity_not_verified"})
	_, err = f.try(&commands.ExecuteErasure{RequestID: c.RequestID})
	wantClass(t, err, commands.ClassConflict)
	_, err = f.try(&commands.ExecuteErasure{RequestID: r.RequestID})
	wantViolation(t, err, "request_id", "kind_erasure")
	_, err = f.try(&commands.ReceivePrivacyRequest{SubjectID: uuid.New(), Kind: "access", Channel: "api"})
	wantClass(t, err, commands.ClassNotFound)
	_, err = f.try(&commands.ReceivePrivacyRequest{SubjectID: eu, Kind: "forget-me", Channel: "api"})
	wantViolation(t, err, "kind", "request_kind")
}

// subjectEventsErased asserts every event of subject with a personal part reads back erased.
func subjectEventsErased(t *testing.T, f *fixture, subject uuid.UUID) {
	t.Helper()
	n := 0
	for _, ev := range f.events(t) {
		if ev.Subject != subject.String() {
			continue
		}
		d, err := f.codec.Decode(t.Context(), ev)
		if err != nil {
			t.Fatal(err)
		}
		if !d.Erased {
			t.Fatalf("%s of the subject still decrypts", ev.Type)
		}
		n++
	}
	if n == 0 {
		t.Fatal("subject has no personal events")
	}
}

func TestErasure(t *testing.T) {
	f := newFixture(t)
	acct := f.register(t, "Erase.Me+work@gmail.com", "EU").AccountID
	key := issueKey(t, f, acct)
	f.do(t, usageCmd(key, "u1"))
	// A hold on tax records alone keeps those records but does not block the erasure of
	// personal data; a hold on the profile does.
	f.do(t, &commands.PlaceLegalHold{SubjectID: acct, Categories: []string{"tax_records"}, Basis: "tax_retention",
		ReviewAt: f.clock().Add(24 * time.Hour)})
	hold := f.do(t, &commands.PlaceLegalHold{SubjectID: acct, Categories: []string{"profile"}, Basis: "litigation",
		ReviewAt: f.clock().Add(24 * time.Hour)}).Data.(commands.HoldResult)
	req := f.do(t, &commands.ReceivePrivacyRequest{SubjectID: acct, Kind: "erasure", Channel: "web_form"}).Data.(commands.PrivacyRequestResult)

	// An active hold defers the erasure, once.
	for i := 0; i < 2; i++ {
		out := f.do(t, &commands.ExecuteErasure{RequestID: req.RequestID}).Data.(commands.ExecuteErasureResult)
		if out.Status != commands.RequestDeferred || len(out.HoldIDs) != 1 || out.HoldIDs[0] != hold.HoldID {
			t.Fatalf("with a hold: %+v", out)
		}
	}
	if n := f.countType(t, privacy.TypeDeferred); n != 1 {
		t.Fatalf("%d deferrals recorded", n)
	}
	if n := f.countType(t, privacy.TypeSubjectKeyShredded); n != 0 {
		t.Fatal("erased despite the hold")
	}

	f.do(t, &commands.ReleaseLegalHold{HoldID: hold.HoldID})
	_, err := f.try(&commands.ReleaseLegalHold{HoldID: hold.HoldID})
	wantClass(t, err, commands.ClassConflict)
	out := f.do(t, &commands.ExecuteErasure{RequestID: req.RequestID}).Data.(commands.ExecuteErasureResult)
	if out.Status != commands.RequestCompleted || out.KeyID == "" {
		t.Fatalf("after release: %+v", out)
	}
	subjectEventsErased(t, f, acct)
	// Idempotent: again changes nothing.
	before := len(f.events(t))
	if out := f.do(t, &commands.ExecuteErasure{RequestID: req.RequestID}).Data.(commands.ExecuteErasureResult); out.Status != commands.RequestCompleted {
		t.Fatalf("repeat: %+v", out)
	}
	if len(f.events(t)) != before {
		t.Fatal("repeated erasure stored events")
	}
	erased := f.stream(t, account.Stream(acct))
	if _, ok := erased[len(erased)-1].Payload.(account.Erased); !ok {
		t.Fatal("account.erased not recorded")
	}
	// Usage of an erased subject cannot be sealed any more; history stays.
	_, err = f.try(usageCmd(key, "u2"))
	wantClass(t, err, commands.ClassConflict)

	// The same person returns with a variant address: no new-user credits.
	again := f.register(t, "eraseme@googlemail.com", "EU")
	if again.CreditsGranted {
		t.Fatal("returning erased person got new-user credits")
	}
	if strings.Contains(f.logs.String(), "rase.Me") {
		t.Fatal("email in logs")
	}
}

func TestScheduledErasureAfterClosure(t *testing.T) {
	f := newFixture(t)
	acct := f.register(t, "closing@example.com", "EU").AccountID
	closed := f.do(t, &commands.CloseAccount{AccountID: acct, Reason: "customer_request"})
	policy, err := commands.NewScheduleErasureOnAccountClosed(f.svc, 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	evs, _ := f.store.ReadAll(t.Context(), closed.Position, 1)
	d, err := f.codec.Decode(t.Context(), evs[0])
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // delivered twice
		if err := policy.Handle(t.Context(), d); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.countType(t, privacy.TypeErasureScheduled); n != 1 {
		t.Fatalf("%d schedules", n)
	}
	done, err := f.svc.RunDueErasures(t.Context(), f.clock().Add(29*24*time.Hour))
	if err != nil || len(done) != 0 {
		t.Fatalf("ran before due: %v %+v", err, done)
	}
	done, err = f.svc.RunDueErasures(t.Context(), f.clock().Add(31*24*time.Hour))
	if err != nil || len(done) != 1 || done[0].Err != nil || done[0].Status != commands.RequestCompleted {
		t.Fatalf("due sweep: %v %+v", err, done)
	}
	subjectEventsErased(t, f, acct)
	done, _ = f.svc.RunDueErasures(t.Context(), f.clock().Add(40*24*time.Hour))
	if len(done) != 0 {
		t.Fatalf("sweep repeated a completed erasure: %+v", done)
	}
}
