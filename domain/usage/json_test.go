package usage

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"
)

// The hand-written encoding must be byte for byte what encoding/json writes:
// the bytes are hashed into the chain and compared by auditors.
func TestRecordedAppendJSONMatchesMarshal(t *testing.T) {
	strs := []string{"", "req-1", "gpt-4o", "ok", "a\"b", `back\slash`, "<script>", "a&b", "tab\there", "nl\n",
		"ünïcode", "\u2028line", "bad\xffutf8", "\x00", "emoji 😀", "~!@#$%^*()_+{}|:?/.,;'[]=-`"}
	zones := []*time.Location{time.UTC, time.FixedZone("X", 5*3600+1800), time.FixedZone("Y", -7*3600)}
	times := []time.Time{{}, time.Date(2026, 11, 30, 8, 33, 38, 123456789, time.UTC), time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 1000, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}
	ints := []int64{0, 1, -1, 42, math.MaxInt64, math.MinInt64, 1_000_000_000}
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	for i := range 5000 {
		at := times[rng.IntN(len(times))]
		if i%3 == 0 {
			at = time.Unix(rng.Int64N(4e9), rng.Int64N(1e9)).In(zones[rng.IntN(len(zones))])
		}
		e := Recorded{RequestID: pick(strs), KeyID: uuid.New(), AccountID: uuid.New(), Provider: pick(strs), Model: pick(strs),
			InputTokens: ints[rng.IntN(len(ints))], OutputTokens: rng.Int64(), CostMicros: ints[rng.IntN(len(ints))],
			Status: pick(strs), LatencyMs: -rng.Int64(), OccurredAt: at, Personal: RecordedPersonal{ClientIP: "203.0.113.9"}}
		if i%7 == 0 {
			e.KeyID = uuid.Nil
		}
		want, wantErr := json.Marshal(e)
		got, gotErr := e.AppendJSON([]byte("prefix"))
		if (wantErr != nil) != (gotErr != nil) {
			t.Fatalf("%+v: error %v, json.Marshal error %v", e, gotErr, wantErr)
		}
		if wantErr != nil {
			continue
		}
		if !bytes.HasPrefix(got, []byte("prefix")) || !bytes.Equal(got[len("prefix"):], want) {
			t.Fatalf("AppendJSON wrote\n%s\njson.Marshal writes\n%s", got, want)
		}
	}
}

func FuzzRecordedAppendJSON(f *testing.F) {
	f.Add("req", "openai", "gpt-4o", "ok", int64(1), int64(2), int64(3), int64(4), int64(1764491618), int64(5), 0)
	f.Add("<&>", "\u2028", "\xff", "\"", int64(-1), int64(0), int64(0), int64(0), int64(-62135596800), int64(0), 3600)
	f.Fuzz(func(t *testing.T, req, provider, model, status string, in, out, cost, lat, sec, nsec int64, offset int) {
		e := Recorded{RequestID: req, Provider: provider, Model: model, Status: status, InputTokens: in, OutputTokens: out,
			CostMicros: cost, LatencyMs: lat, OccurredAt: time.Unix(sec, nsec).In(time.FixedZone("", offset%86400))}
		want, wantErr := json.Marshal(e)
		got, gotErr := e.AppendJSON(nil)
		if (wantErr != nil) != (gotErr != nil) || (wantErr == nil && !bytes.Equal(got, want)) {
			t.Fatalf("AppendJSON %q (%v), json.Marshal %q (%v)", got, gotErr, want, wantErr)
		}
	})
}

func BenchmarkRecordedEncode(b *testing.B) {
	e := Recorded{RequestID: "req-0123456789", KeyID: uuid.New(), AccountID: uuid.New(), Provider: "openai", Model: "gpt-4o-mini",
		InputTokens: 1234, OutputTokens: 567, CostMicros: 8901, Status: "ok", LatencyMs: 321, OccurredAt: time.Now().UTC()}
	b.Run("json.Marshal", func(b *testing.B) {
		for b.Loop() {
			_, _ = json.Marshal(e)
		}
	})
	b.Run("AppendJSON", func(b *testing.B) {
		buf := make([]byte, 0, 512)
		for b.Loop() {
			_, _ = e.AppendJSON(buf[:0])
		}
	})
}

// The usage ids are UUIDv5 exactly as the uuid package computes them: a
// stored id must stay the id of its request forever (idempotency at any age).
func TestEventIDMatchesUUIDv5(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 2000 {
		key := uuid.New()
		n := r.IntN(MaxRequestIDLen + 40) // longer than the limit too: the buffer grows
		req := make([]byte, n)
		for j := range req {
			req[j] = byte(r.IntN(256))
		}
		if i == 0 {
			req = nil
		}
		if got, want := EventID(key, string(req)), uuid.NewSHA1(Namespace, []byte(key.String()+":"+string(req))); got != want {
			t.Fatalf("EventID(%v, %q) = %v, want %v", key, req, got, want)
		}
		if got, want := ErrorEventID(key, string(req)), uuid.NewSHA1(Namespace, []byte(key.String()+":"+string(req)+":error")); got != want {
			t.Fatalf("ErrorEventID(%v, %q) = %v, want %v", key, req, got, want)
		}
	}
}

// Stream names are stream keys in every store: the short path must write
// exactly what the Format-based one wrote, in every zone and at year edges.
func TestStreamName(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	zones := []*time.Location{time.UTC, time.FixedZone("x", -11*3600), time.FixedZone("y", 14*3600)}
	for i := range 5000 {
		acct := uuid.New()
		sec := r.Int64N(253402300800+2*86400) - 86400 // year 1 .. 10000
		if i%7 == 0 {
			sec = -62135596800 + r.Int64N(3*86400) // around year 1
		}
		day := time.Unix(sec, 0).In(zones[i%len(zones)])
		want := "usage-" + acct.String() + "-" + day.UTC().Format("20060102")
		if got := Stream(acct, day); got != want {
			t.Fatalf("Stream(%v, %v) = %q, want %q", acct, day, got, want)
		}
	}
}
