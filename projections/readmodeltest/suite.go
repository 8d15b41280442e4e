package readmodeltest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/usage"
	"github.com/ledgerline/ledgerline/eventstore"
	"github.com/ledgerline/ledgerline/projections"
)

// Impl is one instance of the read models under test.
type Impl struct {
	Models    projections.ReadModels
	Projector projections.Projector
	// Dump returns every value the implementation stores, as text, for the
	// plaintext scan; nil skips it.
	Dump func(t testing.TB) string
}

// Features describes the implementation under test.
type Features struct {
	// New returns a fresh, empty instance (its own tables).
	New func(t *testing.T, codec *eventstore.Codec) Impl
	// Reopen returns a new instance over the stored state of impl, with all
	// in-process state dropped (a restart). Nil when state is not durable.
	Reopen func(t *testing.T, codec *eventstore.Codec, impl Impl) Impl
	// PageSize is the replay batch size; default 97 (odd, to cut histories
	// at awkward places).
	PageSize int
	// Gen sizes the history.
	Gen GenConfig
}

// Run runs the differential suite against f.
func Run(t *testing.T, f Features) {
	if f.PageSize <= 0 {
		f.PageSize = 97
	}
	ctx := context.Background()
	setup := func(t *testing.T) (*Env, *History) {
		t.Helper()
		env, err := NewEnv(nil)
		if err != nil {
			t.Fatal(err)
		}
		h, err := Generate(ctx, env, f.Gen)
		if err != nil {
			t.Fatalf("generate history: %v", err)
		}
		return env, h
	}
	replay := func(t *testing.T, env *Env, p projections.Projector, until projections.Until) {
		t.Helper()
		if _, err := projections.Replay(ctx, env.Store, env.Codec, p, until, projections.ReplayConfig{PageSize: f.PageSize}); err != nil {
			t.Fatalf("replay into %s: %v", p.Name(), err)
		}
	}
	reference := func(t *testing.T, env *Env) *projections.MemSet {
		ref := projections.NewMemSet(env.Codec, projections.MemSetOptions{Now: Clock})
		replay(t, env, ref, projections.Until{})
		return ref
	}

	t.Run("Differential", func(t *testing.T) {
		env, h := setup(t)
		ref := reference(t, env)
		impl := f.New(t, env.Codec)
		replay(t, env, impl.Projector, projections.Until{})
		Compare(t, ref, impl.Models, h)
		checkCanaryVisible(t, impl.Models, h)
		if impl.Dump != nil {
			NoCanary(t, "read models before erasure", impl.Dump(t), h.Canary)
		}
		NoCanary(t, "memory reference", DumpValue(ref), h.Canary)
	})

	t.Run("ReplayIsIdempotent", func(t *testing.T) {
		env, h := setup(t)
		ref := reference(t, env)
		impl := f.New(t, env.Codec)
		replay(t, env, impl.Projector, projections.Until{})
		// the same records again: a checkpointed projector must skip them
		evs, err := env.Store.ReadAll(ctx, 1, 500)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := projections.DecodeRecords(env.Codec, evs)
		if err != nil {
			t.Fatal(err)
		}
		if err := impl.Projector.ApplyBatch(ctx, recs); err != nil {
			t.Fatalf("re-apply: %v", err)
		}
		Compare(t, ref, impl.Models, h)
	})

	if f.Reopen != nil {
		t.Run("KillAndRestart", func(t *testing.T) {
			env, h := setup(t)
			ref := reference(t, env)
			head, _ := env.Store.Head(ctx)
			impl := f.New(t, env.Codec)
			for _, cut := range []uint64{head.Position / 3, head.Position/3 + 1, head.Position * 2 / 3} {
				replay(t, env, impl.Projector, projections.Until{Position: cut})
				impl = f.Reopen(t, env.Codec, impl)
				cp, err := impl.Projector.Checkpoint(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if cp != cut {
					t.Fatalf("checkpoint after restart = %d, want %d", cp, cut)
				}
			}
			replay(t, env, impl.Projector, projections.Until{})
			Compare(t, ref, impl.Models, h)
		})
	}

	// A sum that would overflow int64 fails the batch loudly (an error
	// wrapping projections.ErrOverflow) and changes nothing: no wrapped-around
	// total is ever stored. The domain bounds each record, so only corrupt or
	// hostile history gets here; the records are made by hand.
	t.Run("OverflowFailsLoudly", func(t *testing.T) {
		env, err := NewEnv(nil)
		if err != nil {
			t.Fatal(err)
		}
		impl := f.New(t, env.Codec)
		acct, key := uuid.New(), uuid.New()
		at := Clock()
		rec := func(pos uint64, cost int64) projections.Record {
			return projections.Record{
				Event: eventstore.Event{ID: uuid.New(), Position: pos, Type: usage.TypeRecorded, Schema: 1, RecordedAt: at},
				Payload: usage.Recorded{RequestID: fmt.Sprint("r", pos), KeyID: key, AccountID: acct, Provider: "p", Model: "m",
					InputTokens: cost, OutputTokens: 1, CostMicros: cost, Status: "ok", LatencyMs: 1, OccurredAt: at},
			}
		}
		const maxInt64 = int64(1<<63 - 1)
		if err := impl.Projector.ApplyBatch(ctx, []projections.Record{rec(1, maxInt64-1)}); err != nil {
			t.Fatalf("a sum that fits: %v", err)
		}
		for _, batch := range [][]projections.Record{{rec(2, 2)}, {rec(2, 1), rec(3, 1)}} {
			err := impl.Projector.ApplyBatch(ctx, batch)
			if !errors.Is(err, projections.ErrOverflow) {
				t.Fatalf("an overflowing batch: err = %v, want ErrOverflow", err)
			}
		}
		if cp, err := impl.Projector.Checkpoint(ctx); err != nil || cp != 1 {
			t.Fatalf("checkpoint after a refused batch = %d, %v; want 1", cp, err)
		}
		tot, err := impl.Models.Usage().UsageTotals(ctx, projections.UsageFilter{AccountID: acct})
		if err != nil || tot.CostMicros != maxInt64-1 || tot.InputTokens != maxInt64-1 || tot.Requests != 1 {
			t.Fatalf("usage after a refused batch = %+v, %v", tot, err)
		}
		bal, err := impl.Models.Balances().Balance(ctx, acct)
		if err != nil || bal.UsageCostMicros != maxInt64-1 || bal.BalanceMicros != -(maxInt64-1) {
			t.Fatalf("balance after a refused batch = %+v, %v", bal, err)
		}
	})

	t.Run("Erasure", func(t *testing.T) {
		env, h := setup(t)
		before := reference(t, env)
		impl := f.New(t, env.Codec)
		replay(t, env, impl.Projector, projections.Until{})
		if err := Erase(ctx, env, h, h.End.Add(time.Hour)); err != nil {
			t.Fatalf("erase: %v", err)
		}
		after := reference(t, env)
		replay(t, env, impl.Projector, projections.Until{})
		Compare(t, after, impl.Models, h)
		c := h.Canary
		for name, m := range map[string]projections.ReadModels{"reference": after, "implementation": impl.Models} {
			a, err := m.Accounts().Account(ctx, c.AccountID)
			if err != nil {
				t.Fatalf("%s: account: %v", name, err)
			}
			if !a.Erased || a.Email != "" || a.Name != "" || a.Status != projections.StatusErased {
				t.Errorf("%s: erased account = %+v", name, a)
			}
			keys, err := m.Keys().KeysByAccount(ctx, c.AccountID)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range keys {
				if k.Name != "" || !k.NameErased {
					t.Errorf("%s: key of erased account shows name %q", name, k.Name)
				}
				if _, ok, _ := m.Keys().VerifyBySecretHash(ctx, h.SecretHashes[0]); ok {
					t.Errorf("%s: key of erased account still verifies", name)
				}
			}
			r, err := m.Privacy().Request(ctx, c.RequestID, Clock())
			if err != nil {
				t.Fatal(err)
			}
			if r.Details != "" || !r.DetailsErased || r.KeyShreddedAt == nil {
				t.Errorf("%s: erased subject's request = %+v", name, r)
			}
			fr, err := m.Fraud().EmailHash(ctx, c.EmailHash)
			if err != nil || len(fr.Accounts) == 0 || fr.Accounts[0] != c.AccountID {
				t.Errorf("%s: fraud hash after erasure = %+v, %v", name, fr, err)
			}
			f := projections.UsageFilter{AccountID: c.AccountID}
			want, _ := before.Usage().UsageTotals(ctx, f)
			got, err := m.Usage().UsageTotals(ctx, f)
			if err != nil || got != want || got.Requests == 0 {
				t.Errorf("%s: usage after erasure = %+v, want %+v (%v)", name, got, want, err)
			}
			wantTx, _ := before.Balances().Transactions(ctx, projections.TxFilter{AccountID: c.AccountID, Limit: 1000})
			gotTx, err := m.Balances().Transactions(ctx, projections.TxFilter{AccountID: c.AccountID, Limit: 1000})
			if err != nil || !sameJSON(wantTx, gotTx) || len(gotTx.Items) == 0 {
				t.Errorf("%s: transactions changed by erasure", name)
			}
		}
		if impl.Dump != nil {
			NoCanary(t, "read models after erasure", impl.Dump(t), c)
		}
	})
}

// Clock is the clock of the suite's time-dependent queries (key expiry,
// overdue requests): a moment after the generated timeline. Implementations
// under test must use it as their clock.
func Clock() time.Time { return time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC) }

func checkCanaryVisible(t *testing.T, m projections.ReadModels, h *History) {
	t.Helper()
	ctx := context.Background()
	a, err := m.Accounts().Account(ctx, h.Canary.AccountID)
	if err != nil {
		t.Fatal(err)
	}
	if a.Email != h.Canary.Email || a.Name != h.Canary.Name {
		t.Errorf("canary profile = %q %q, want %q %q (opened at query time)", a.Email, a.Name, h.Canary.Email, h.Canary.Name)
	}
	keys, err := m.Keys().KeysByAccount(ctx, h.Canary.AccountID)
	if err != nil || len(keys) == 0 || keys[0].Name != h.Canary.KeyName {
		t.Errorf("canary keys = %+v, %v", keys, err)
	}
}

// NoCanary fails when dump holds any of the canary's plaintext values.
func NoCanary(t testing.TB, what, dump string, c Canary) {
	t.Helper()
	if dump == "" {
		t.Errorf("%s: empty dump", what)
	}
	lower := strings.ToLower(dump)
	for _, s := range []string{c.Email, c.Name, c.KeyName, c.Details, "Zebulon", "canary.7f3a9"} {
		if s != "" && strings.Contains(lower, strings.ToLower(s)) {
			t.Errorf("%s: plaintext personal data %q found", what, s)
		}
	}
}

func sameJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// Compare requires every query of got to answer like want for the ids in h.
func Compare(t *testing.T, want, got projections.ReadModels, h *History) {
	t.Helper()
	ctx := context.Background()
	now := Clock()
	check := func(what string, w any, werr error, g any, gerr error) {
		t.Helper()
		if (werr != nil) != (gerr != nil) {
			t.Errorf("%s: error %v, want %v", what, gerr, werr)
			return
		}
		ja, _ := json.Marshal(w)
		jb, _ := json.Marshal(g)
		if !bytes.Equal(ja, jb) {
			t.Errorf("%s:\n got %s\nwant %s", what, jb, ja)
		}
	}
	ids := append(append([]uuid.UUID{}, h.Accounts...), uuid.Must(uuid.NewRandom()))
	for _, id := range ids {
		w, werr := want.Accounts().Account(ctx, id)
		g, gerr := got.Accounts().Account(ctx, id)
		check("Account "+id.String(), w, werr, g, gerr)
		wk, werr := want.Keys().KeysByAccount(ctx, id)
		gk, gerr := got.Keys().KeysByAccount(ctx, id)
		check("KeysByAccount", wk, werr, gk, gerr)
		for _, grp := range [][]projections.UsageDimension{nil, {projections.ByDay}, {projections.ByModel}, {projections.ByProvider},
			{projections.ByKey}, {projections.ByDay, projections.ByModel}, {projections.ByProvider, projections.ByKey, projections.ByDay}} {
			f := projections.UsageFilter{AccountID: id, GroupBy: grp}
			wu, werr := want.Usage().Usage(ctx, f)
			gu, gerr := got.Usage().Usage(ctx, f)
			check(fmt.Sprintf("Usage %v", grp), wu, werr, gu, gerr)
		}
		f := projections.UsageFilter{AccountID: id, From: h.Start.Add(24 * time.Hour), To: h.Start.Add(72 * time.Hour), GroupBy: []projections.UsageDimension{projections.ByDay}}
		wu, werr := want.Usage().Usage(ctx, f)
		gu, gerr := got.Usage().Usage(ctx, f)
		check("Usage window", wu, werr, gu, gerr)
		wt, werr := want.Usage().UsageTotals(ctx, f)
		gt, gerr := got.Usage().UsageTotals(ctx, f)
		check("UsageTotals", wt, werr, gt, gerr)
		wb, werr := want.Balances().Balance(ctx, id)
		gb, gerr := got.Balances().Balance(ctx, id)
		check("Balance", wb, werr, gb, gerr)
		for _, lim := range []int{2, 1000} {
			after := uint64(0)
			for i := 0; i < 50; i++ {
				wp, werr := want.Balances().Transactions(ctx, projections.TxFilter{AccountID: id, After: after, Limit: lim})
				gp, gerr := got.Balances().Transactions(ctx, projections.TxFilter{AccountID: id, After: after, Limit: lim})
				check("Transactions", wp, werr, gp, gerr)
				if wp.Next == 0 {
					break
				}
				after = wp.Next
			}
		}
		wd, werr := want.Balances().Disputes(ctx, id)
		gd, gerr := got.Balances().Disputes(ctx, id)
		check("Disputes", wd, werr, gd, gerr)
		wc, werr := want.Consent().Consent(ctx, id)
		gc, gerr := got.Consent().Consent(ctx, id)
		check("Consent", wc, werr, gc, gerr)
		wh, werr := want.Consent().ConsentHistory(ctx, id)
		gh, gerr := got.Consent().ConsentHistory(ctx, id)
		check("ConsentHistory", wh, werr, gh, gerr)
		for _, at := range []time.Time{h.Start, h.Start.Add(3 * time.Hour), h.Start.Add(48 * time.Hour), h.End} {
			wa, werr := want.Consent().ConsentAsOf(ctx, id, at)
			ga, gerr := got.Consent().ConsentAsOf(ctx, id, at)
			check("ConsentAsOf", wa, werr, ga, gerr)
		}
		wr, werr := want.Privacy().Requests(ctx, projections.RequestFilter{Subject: id}, now)
		gr, gerr := got.Privacy().Requests(ctx, projections.RequestFilter{Subject: id}, now)
		check("Requests by subject", wr, werr, gr, gerr)
		for _, active := range []bool{false, true} {
			wh, werr := want.Privacy().Holds(ctx, id, active)
			gh, gerr := got.Privacy().Holds(ctx, id, active)
			check("Holds", wh, werr, gh, gerr)
		}
	}
	for _, st := range []string{"", projections.StatusActive, projections.StatusSuspended, projections.StatusClosed} {
		for _, personal := range []bool{false, true} {
			after := uint64(0)
			for i := 0; i < 100; i++ {
				f := projections.AccountFilter{Status: st, After: after, Limit: 5, IncludePersonal: personal}
				wp, werr := want.Accounts().ListAccounts(ctx, f)
				gp, gerr := got.Accounts().ListAccounts(ctx, f)
				check("ListAccounts "+st, wp, werr, gp, gerr)
				if wp.Next == 0 {
					break
				}
				after = wp.Next
			}
		}
	}
	for _, id := range append(append([]uuid.UUID{}, h.Keys...), uuid.Must(uuid.NewRandom())) {
		w, werr := want.Keys().Key(ctx, id)
		g, gerr := got.Keys().Key(ctx, id)
		check("Key", w, werr, g, gerr)
	}
	for _, hash := range append(append([]string{}, h.SecretHashes...), "nope") {
		wa, wok, werr := want.Keys().VerifyBySecretHash(ctx, hash)
		ga, gok, gerr := got.Keys().VerifyBySecretHash(ctx, hash)
		check("VerifyBySecretHash", []any{wa, wok}, werr, []any{ga, gok}, gerr)
	}
	for _, hash := range append(append([]string{}, h.EmailHashes...), "nope") {
		w, werr := want.Fraud().EmailHash(ctx, hash)
		g, gerr := got.Fraud().EmailHash(ctx, hash)
		check("Fraud", w, werr, g, gerr)
	}
	for _, id := range h.Requests {
		w, werr := want.Privacy().Request(ctx, id, now)
		g, gerr := got.Privacy().Request(ctx, id, now)
		check("Request", w, werr, g, gerr)
	}
	for _, at := range []time.Time{h.Start, h.End, now, now.AddDate(1, 0, 0)} {
		w, werr := want.Privacy().Overdue(ctx, at)
		g, gerr := got.Privacy().Overdue(ctx, at)
		check("Overdue", w, werr, g, gerr)
	}
	for _, f := range []projections.RequestFilter{{}, {OpenOnly: true}, {Kind: "erasure"}} {
		w, werr := want.Privacy().Requests(ctx, f, now)
		g, gerr := got.Privacy().Requests(ctx, f, now)
		check("Requests", w, werr, g, gerr)
	}
}

// DumpValue renders every string, byte slice and number reachable from v
// (unexported fields included, codecs skipped) so tests can search the
// in-memory state for plaintext.
func DumpValue(v any) string {
	var b strings.Builder
	seen := map[uintptr]bool{}
	codecType := reflect.TypeOf((*eventstore.Codec)(nil))
	var walk func(reflect.Value, int)
	walk = func(v reflect.Value, depth int) {
		if depth > 64 || !v.IsValid() {
			return
		}
		switch v.Kind() {
		case reflect.Pointer:
			if v.IsNil() || v.Type() == codecType || seen[v.Pointer()] {
				return
			}
			seen[v.Pointer()] = true
			walk(v.Elem(), depth+1)
		case reflect.Interface:
			walk(v.Elem(), depth+1)
		case reflect.Struct:
			for i := 0; i < v.NumField(); i++ {
				walk(v.Field(i), depth+1)
			}
		case reflect.Map:
			it := v.MapRange()
			for it.Next() {
				walk(it.Key(), depth+1)
				walk(it.Value(), depth+1)
			}
		case reflect.Slice, reflect.Array:
			if v.Type().Elem().Kind() == reflect.Uint8 {
				if v.Kind() == reflect.Slice {
					b.Write(v.Bytes())
				} else {
					for i := 0; i < v.Len(); i++ {
						b.WriteByte(byte(v.Index(i).Uint()))
					}
				}
				b.WriteByte('\n')
				return
			}
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i), depth+1)
			}
		case reflect.String:
			b.WriteString(v.String())
			b.WriteByte('\n')
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			fmt.Fprintf(&b, "%d ", v.Int())
		case reflect.Uint, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			fmt.Fprintf(&b, "%d ", v.Uint())
		}
	}
	walk(reflect.ValueOf(v), 0)
	return b.String()
}
