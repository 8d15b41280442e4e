package projections

import (
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/usage"
	"github.com/ledgerline/ledgerline/eventstore"
)

// fastUsageRecorded decodes the public payload of a usage.recorded event of
// schema 1 exactly as encoding/json writes it (fields in declaration order,
// no escapes), without reflection: usage is most of the log, so this is
// most of a rebuild's decoding. Anything unexpected returns ok=false and the
// caller falls back to the codec, so the result is always the codec's.
// Provider, model and status come from small sets: with a non-nil intern
// set they are shared between events instead of allocated per event.
func fastUsageRecorded(ev *eventstore.Event, intern *internSet) (usage.Recorded, bool) {
	if ev.Type != usage.TypeRecorded || ev.Schema != 1 {
		return usage.Recorded{}, false
	}
	if intern == nil {
		intern = &internSet{}
	}
	p := jsonScan{b: ev.Data}
	var r usage.Recorded
	ok := p.lit(`{"request_id":`) && p.str(&r.RequestID) &&
		p.lit(`,"key_id":`) && p.uuid(&r.KeyID) &&
		p.lit(`,"account_id":`) && p.uuid(&r.AccountID) &&
		p.lit(`,"provider":`) && p.common(&r.Provider, &intern.provider) &&
		p.lit(`,"model":`) && p.common(&r.Model, &intern.model) &&
		p.lit(`,"input_tokens":`) && p.int(&r.InputTokens) &&
		p.lit(`,"output_tokens":`) && p.int(&r.OutputTokens) &&
		p.lit(`,"cost_micros":`) && p.int(&r.CostMicros) &&
		p.lit(`,"status":`) && p.common(&r.Status, &intern.status) &&
		p.lit(`,"latency_ms":`) && p.int(&r.LatencyMs) &&
		p.lit(`,"occurred_at":`) && p.time(&r.OccurredAt) &&
		p.lit(`}`) && p.i == len(p.b)
	return r, ok
}

// fastUsageErrorReported is fastUsageRecorded for usage.error_reported, the
// second most frequent event (reflection made it a third of a rebuild's
// decoding although it is a tenth of the events).
func fastUsageErrorReported(ev *eventstore.Event, intern *internSet) (usage.ErrorReported, bool) {
	if ev.Type != usage.TypeErrorReported || ev.Schema != 1 {
		return usage.ErrorReported{}, false
	}
	if intern == nil {
		intern = &internSet{}
	}
	p := jsonScan{b: ev.Data}
	var r usage.ErrorReported
	var status int64
	ok := p.lit(`{"request_id":`) && p.str(&r.RequestID) &&
		p.lit(`,"key_id":`) && p.uuid(&r.KeyID) &&
		p.lit(`,"account_id":`) && p.uuid(&r.AccountID) &&
		p.lit(`,"provider":`) && p.common(&r.Provider, &intern.provider) &&
		p.lit(`,"model":`) && p.common(&r.Model, &intern.model) &&
		p.lit(`,"code":`) && p.common(&r.Code, &intern.code) &&
		p.lit(`,"http_status":`) && p.int(&status) &&
		p.lit(`,"occurred_at":`) && p.time(&r.OccurredAt) &&
		p.lit(`}`) && p.i == len(p.b)
	r.HTTPStatus = int(status)
	return r, ok && int64(r.HTTPStatus) == status
}

// internSet shares the strings of small sets of values (providers, models,
// statuses, error codes) between the events one decoder goroutine decodes.
// Each list is bounded: past internMax distinct values, new ones are
// allocated as usual. A short list scanned by length and bytes beats a map,
// whose hashing cost a third of a usage event's decoding.
type internSet struct {
	provider, model, status, code internList
}

type internList []string

const internMax = 32

func (l *internList) str(b []byte) string {
	for _, v := range *l {
		if len(v) == len(b) && v == string(b) { // no allocation: compiler-optimised comparison
			return v
		}
	}
	v := string(b)
	if len(*l) < internMax {
		*l = append(*l, v)
	}
	return v
}

type jsonScan struct {
	b []byte
	i int
}

func (s *jsonScan) lit(l string) bool {
	if len(s.b)-s.i < len(l) || string(s.b[s.i:s.i+len(l)]) != l {
		return false
	}
	s.i += len(l)
	return true
}

// raw returns the bytes of a string without escapes.
func (s *jsonScan) raw() ([]byte, bool) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false
	}
	for j := s.i + 1; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			out := s.b[s.i+1 : j]
			s.i = j + 1
			return out, true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return nil, false // escapes and non-ASCII: leave to encoding/json
		}
	}
	return nil, false
}

func (s *jsonScan) str(dst *string) bool {
	b, ok := s.raw()
	if ok {
		*dst = string(b)
	}
	return ok
}

// common is str for values from a small set: interned in l.
func (s *jsonScan) common(dst *string, l *internList) bool {
	b, ok := s.raw()
	if ok {
		*dst = l.str(b)
	}
	return ok
}

func (s *jsonScan) uuid(dst *uuid.UUID) bool {
	b, ok := s.raw()
	if !ok || len(b) != 36 {
		return false
	}
	u, err := uuid.ParseBytes(b)
	*dst = u
	return err == nil
}

func (s *jsonScan) int(dst *int64) bool {
	j := s.i
	if j < len(s.b) && s.b[j] == '-' {
		j++
	}
	for j < len(s.b) && s.b[j] >= '0' && s.b[j] <= '9' {
		j++
	}
	v, err := strconv.ParseInt(string(s.b[s.i:j]), 10, 64)
	if err != nil {
		return false
	}
	*dst, s.i = v, j
	return true
}

func (s *jsonScan) time(dst *time.Time) bool {
	b, ok := s.raw()
	if !ok {
		return false
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	*dst = t
	return err == nil
}
