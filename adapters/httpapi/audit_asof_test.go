package httpapi

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ledgerline/ledgerline/domain/audit"
	"github.com/ledgerline/ledgerline/eventstore"
)

// TestAuditAccountAsOf: the as-of view before a payment shows the balance
// without it, after it with it; by position and by time; public data only.
func TestAuditAccountAsOf(t *testing.T) {
	h := newHarness(t)
	id := h.register("asof.person@example.com", "As Of Person")
	var before HeadView
	h.mustDo("auditor", "GET", "/v1/audit/head", nil, 200, &before)
	time.Sleep(5 * time.Millisecond) // store times are in microseconds: keep "before" strictly before the payment
	beforeTime := time.Now().UTC()
	time.Sleep(5 * time.Millisecond)
	var paid struct {
		Position uint64 `json:"position"`
	}
	h.mustDo("gateway", "POST", "/v1/accounts/"+id.String()+"/payments", map[string]any{"processor": "stripe",
		"processor_ref": "pi_asof_1", "amount_micros": 7_000_000, "currency": "EUR"}, 201, &paid)

	get := func(asOf string) AccountAsOf {
		t.Helper()
		var out AccountAsOf
		r := h.mustDo("auditor", "GET", "/v1/audit/accounts/"+id.String()+"?as_of="+asOf, nil, 200, &out)
		if strings.Contains(string(r.body), "asof.person@example.com") || strings.Contains(string(r.body), "As Of Person") {
			t.Fatalf("as-of view holds personal data: %s", r.body)
		}
		return out
	}
	for _, c := range []struct {
		name          string
		asOf          string
		wantPayments  int64
		wantTxs       int
		wantPosition  uint64
		checkPosition bool
	}{
		{"BeforeByPosition", strconv.FormatUint(before.Position, 10), 0, 1, before.Position, true},
		{"BeforeByTime", beforeTime.Format(time.RFC3339Nano), 0, 1, before.Position, true},
		{"AfterByPosition", strconv.FormatUint(paid.Position, 10), 7_000_000, 2, paid.Position, true},
		{"AfterByTime", time.Now().UTC().Add(time.Second).Format(time.RFC3339Nano), 7_000_000, 2, 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := get(c.asOf)
			if v.Balance.PaymentsMicros != c.wantPayments || len(v.Transactions) != c.wantTxs {
				t.Fatalf("payments %d, %d transactions; want %d, %d", v.Balance.PaymentsMicros, len(v.Transactions), c.wantPayments, c.wantTxs)
			}
			if c.checkPosition && v.AsOf.Position != c.wantPosition {
				t.Fatalf("as_of.position = %d, want %d", v.AsOf.Position, c.wantPosition)
			}
			if v.Account.Status != "active" || v.Account.Email != "" || v.Account.Name != "" || len(v.Consent.Purposes) == 0 {
				t.Fatalf("account %+v consent %+v", v.Account, v.Consent)
			}
		})
	}
	b, a := get(strconv.FormatUint(before.Position, 10)), get(strconv.FormatUint(paid.Position, 10))
	if a.Balance.BalanceMicros-b.Balance.BalanceMicros != 7_000_000 {
		t.Fatalf("balance before %d, after %d", b.Balance.BalanceMicros, a.Balance.BalanceMicros)
	}
	// before registration: unknown; malformed moments are refused
	h.mustDo("auditor", "GET", "/v1/audit/accounts/"+id.String()+"?as_of=1", nil, 404, nil)
	for _, q := range []string{"", "?as_of=", "?as_of=0", "?as_of=yesterday", "?as_of=-3"} {
		h.mustDo("auditor", "GET", "/v1/audit/accounts/"+id.String()+q, nil, 400, nil)
	}
}

// TestAuditCheckpointsList: checkpoints recorded in the log are listed with
// their signature checked against the server's key.
func TestAuditCheckpointsList(t *testing.T) {
	h := newHarness(t)
	h.register("cp.person@example.com", "Cp Person")
	var list CheckpointList
	h.mustDo("auditor", "GET", "/v1/audit/checkpoints", nil, 200, &list)
	if len(list.Checkpoints) != 0 {
		t.Fatalf("checkpoints before any: %+v", list)
	}
	ctx := context.Background()
	head, err := h.store.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := audit.SignCheckpoint(head.Position, head.Hash, eventstore.Now(), h.keyring.SigningKey())
	if err != nil {
		t.Fatal(err)
	}
	e, err := h.codec.Encode(ctx, ev, eventstore.Metadata{Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := h.store.Append(ctx, audit.CheckpointsStream, eventstore.NoStream, e)
	if err != nil {
		t.Fatal(err)
	}
	r := h.mustDo("compliance", "GET", "/v1/audit/checkpoints", nil, 200, &list)
	if len(list.Checkpoints) != 1 {
		t.Fatalf("list: %s", r.body)
	}
	c := list.Checkpoints[0]
	if c.EventPosition != res.LastPosition || c.Position != head.Position || c.Hash != head.Hash.String() ||
		c.SignatureValid == nil || !*c.SignatureValid || c.Signature == "" {
		t.Fatalf("checkpoint: %s", r.body)
	}
	h.mustDo("gateway", "GET", "/v1/audit/checkpoints", nil, 403, nil)
}
