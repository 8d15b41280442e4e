package projections

import (
	"context"
	"reflect"
	"testing"

	"github.com/ledgerline/ledgerline/domain/usage"
	"github.com/ledgerline/ledgerline/eventstore"
)

// The fast paths must agree with the codec on every usage event the codec
// writes, and decline anything else.
func TestFastUsageRecordedMatchesCodec(t *testing.T) {
	reg := eventstore.NewRegistry().MustRegister(usage.Events()...)
	codec, err := eventstore.NewCodec(reg, eventstore.NewSealer(eventstore.NewMemVault(eventstore.NewMemKeyring()), 0))
	if err != nil {
		t.Fatal(err)
	}
	cases := []usage.RecordParams{
		{RequestID: "r1", Provider: "openai", Model: "gpt-4o", InputTokens: 10, OutputTokens: 0, CostMicros: 5, Status: "ok", LatencyMs: 3},
		{RequestID: "r-é", Provider: "x", Model: `quo"te`, Status: "error"},
		{RequestID: "big", Provider: "p", Model: "m", InputTokens: usage.MaxTokens, CostMicros: usage.MaxCostMicros, Status: "timeout", ClientIP: "1.2.3.4"},
	}
	intern := &internSet{}
	for i, p := range cases {
		p.KeyID, p.AccountID = [16]byte{1, byte(i)}, [16]byte{2, byte(i)}
		rec, err := usage.Record(p, eventstore.Now())
		if err != nil {
			t.Fatal(err)
		}
		ev, err := codec.EncodeWithID(context.Background(), rec.EventID(), rec, eventstore.Metadata{})
		if err != nil {
			t.Fatal(err)
		}
		want, err := codec.DecodePublic(ev)
		if err != nil {
			t.Fatal(err)
		}
		for _, tab := range []*internSet{nil, intern, intern} {
			got, ok := fastUsageRecorded(&ev, tab)
			if ok && !reflect.DeepEqual(got, want) {
				t.Errorf("case %d: fast %+v, codec %+v", i, got, want)
			}
			if !ok && i == 0 {
				t.Errorf("case %d: fast path declined a plain event", i)
			}
			if _, ok := fastUsageErrorReported(&ev, tab); ok {
				t.Errorf("case %d: error fast path accepted a usage.recorded event", i)
			}
		}
	}
}

func TestFastUsageErrorReportedMatchesCodec(t *testing.T) {
	reg := eventstore.NewRegistry().MustRegister(usage.Events()...)
	codec, err := eventstore.NewCodec(reg, eventstore.NewSealer(eventstore.NewMemVault(eventstore.NewMemKeyring()), 0))
	if err != nil {
		t.Fatal(err)
	}
	cases := []usage.ReportErrorParams{
		{RequestID: "r1", Provider: "openai", Model: "gpt-4o", Code: "upstream_timeout", HTTPStatus: 504, Detail: "timed out"},
		{RequestID: "r-é", Provider: "x", Model: `quo"te`, Code: "c", HTTPStatus: 500},
		{RequestID: "r2", Provider: "p", Model: "m", Code: "bad_gateway", HTTPStatus: 502},
	}
	intern := &internSet{}
	for i, p := range cases {
		p.KeyID, p.AccountID = [16]byte{1, byte(i)}, [16]byte{2, byte(i)}
		rec, err := usage.ReportError(p, eventstore.Now())
		if err != nil {
			t.Fatal(err)
		}
		ev, err := codec.EncodeWithID(context.Background(), rec.EventID(), rec, eventstore.Metadata{})
		if err != nil {
			t.Fatal(err)
		}
		want, err := codec.DecodePublic(ev)
		if err != nil {
			t.Fatal(err)
		}
		for _, tab := range []*internSet{nil, intern, intern} {
			got, ok := fastUsageErrorReported(&ev, tab)
			if ok && !reflect.DeepEqual(got, want) {
				t.Errorf("case %d: fast %+v, codec %+v", i, got, want)
			}
			if !ok && i == 0 {
				t.Errorf("case %d: fast path declined a plain event", i)
			}
			if _, ok := fastUsageRecorded(&ev, tab); ok {
				t.Errorf("case %d: recorded fast path accepted a usage.error_reported event", i)
			}
		}
	}
}
