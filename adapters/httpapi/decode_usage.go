package httpapi

import (
	"bytes"
	"encoding"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"sync"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/commands"
)

// decodeUsageBatch decodes the body of a usage batch exactly as
// decodeJSON(r, &req) does, only faster. encoding/json's reflection cost
// about 4.8 µs a record, a sixth of the server's CPU during ingestion, so a
// hand-written decoder takes the common, canonical shape; whenever it meets
// anything it is not sure to decode exactly as encoding/json would, the body
// goes through decodeJSON unchanged, so every refusal (and every value it
// lets through) is decodeJSON's own.
func decodeUsageBatch(r *http.Request) (UsageBatchRequest, error) {
	var req UsageBatchRequest
	if !usageFastShape || !plainJSONContentType(r.Header.Get("Content-Type")) || r.Body == nil {
		return req, decodeJSON(r, &req)
	}
	body, err := readBody(r.Body, r.ContentLength)
	if err == nil {
		if recs, ok := decodeUsageRecords(body); ok {
			req.Records = recs
			releaseBody(body) // the records hold copies, never the body's bytes
			return req, nil
		}
	}
	// Replay what was read, and how the read ended, to decodeJSON on a copy
	// of the request (the caller's keeps its own body).
	var replay io.Reader = bytes.NewReader(body)
	if err != nil {
		replay = io.MultiReader(replay, errReader{err})
	}
	r2 := r.WithContext(r.Context())
	r2.Body = io.NopCloser(replay)
	return req, decodeJSON(r2, &req)
}

// maxBodyHint bounds the buffer readBody sets aside on the word of the
// Content-Length header, before any of the body has arrived.
const maxBodyHint = MaxBatchBody / 4

// readBody reads r to its end, as io.ReadAll does, into one buffer sized from
// the announced length (io.ReadAll grows from 512 bytes and copies the body
// once more at the end: as much CPU as decoding a batch).
func readBody(r io.Reader, size int64) ([]byte, error) {
	if size <= 0 {
		return io.ReadAll(r)
	}
	n := int(min(size, maxBodyHint)) + 1 // +1: room for the read that meets EOF
	var b []byte
	if p, _ := bodyBufs.Get().(*[]byte); p != nil && cap(*p) >= n {
		b = (*p)[:0]
	} else {
		b = make([]byte, 0, n)
	}
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF { // as io.ReadAll: only io.EOF itself ends the body cleanly
				err = nil
			}
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// bodyBufs recycles the buffers of bodies read with a size hint: a fresh
// buffer per batch, zeroed and collected, doubled the cost of decoding it.
var bodyBufs sync.Pool // of *[]byte

// releaseBody hands a body to the next request; nothing may refer to it after.
func releaseBody(b []byte) {
	if cap(b) <= maxBodyHint+1 {
		bodyBufs.Put(&b)
	}
}

// plainJSONContentType reports a Content-Type that decodeJSON certainly
// accepts; anything else, even if acceptable, is left to decodeJSON's check.
func plainJSONContentType(ct string) bool {
	switch ct {
	case "application/json", "application/json; charset=utf-8", "application/json;charset=utf-8",
		"application/json; charset=UTF-8":
		return true
	}
	return false
}

// errReader fails every read with err.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// usageFastShape holds while the request types are what the fast decoder was
// written for: a field added, renamed, retyped or given its own unmarshaler
// turns the fast path off (everything then goes through decodeJSON) rather
// than let it accept or decode differently. A test insists it holds.
var usageFastShape = usageShapeIsKnown()

func usageShapeIsKnown() bool {
	type field struct {
		name, tag string
		typ       reflect.Type
	}
	str, i64 := reflect.TypeFor[string](), reflect.TypeFor[int64]()
	want := map[reflect.Type][]field{
		reflect.TypeFor[UsageBatchRequest](): {{"Records", "records", reflect.TypeFor[[]commands.RecordUsage]()}},
		reflect.TypeFor[commands.RecordUsage](): {
			{"KeyID", "key_id", reflect.TypeFor[uuid.UUID]()},
			{"RequestID", "request_id", str},
			{"Provider", "provider", str},
			{"Model", "model", str},
			{"InputTokens", "input_tokens", i64},
			{"OutputTokens", "output_tokens", i64},
			{"CostMicros", "cost_micros", i64},
			{"Status", "status", str},
			{"LatencyMs", "latency_ms", i64},
			{"OccurredAt", "occurred_at,omitempty", reflect.TypeFor[*time.Time]()},
			{"ClientIP", "client_ip,omitempty", str},
			{"UserAgent", "user_agent,omitempty", str},
		},
	}
	jsonU, textU := reflect.TypeFor[json.Unmarshaler](), reflect.TypeFor[encoding.TextUnmarshaler]()
	custom := func(t reflect.Type) bool { return reflect.PointerTo(t).Implements(jsonU) }
	for t, fields := range want {
		if t.NumField() != len(fields) || custom(t) || reflect.PointerTo(t).Implements(textU) {
			return false
		}
		for i, f := range fields {
			sf := t.Field(i)
			if sf.Name != f.name || sf.Tag.Get("json") != f.tag || sf.Type != f.typ || sf.Anonymous {
				return false
			}
		}
	}
	// key_id must go through UnmarshalText, occurred_at through UnmarshalJSON.
	return !custom(reflect.TypeFor[uuid.UUID]()) && custom(reflect.TypeFor[time.Time]())
}

// decodeUsageRecords decodes a canonical usage batch body: one object whose
// only member is "records", an array of objects whose members are the exact
// JSON names of commands.RecordUsage, each at most once, with a string for
// strings, key_id and occurred_at and an integer for the counts, separated by
// JSON whitespace, with nothing after the object. ok is false for anything
// else, and for whatever encoding/json might decode differently or
// decodeJSON would refuse: invalid UTF-8, nulls, fractions and exponents,
// integers out of range, escaped or case-variant names, surrogate escapes,
// unparsable UUIDs and times. Nothing is returned unless the whole body is
// decoded.
func decodeUsageRecords(body []byte) (recs []commands.RecordUsage, ok bool) {
	d := usageScanner{b: body}
	d.ws()
	if !d.eat('{') {
		return nil, false
	}
	d.ws()
	if !d.eat('}') {
		if name, ok := d.name(); !ok || string(name) != "records" || !d.colon() {
			return nil, false
		}
		if recs, ok = d.records(); !ok {
			return nil, false
		}
		d.ws()
		if !d.eat('}') {
			return nil, false // a second member is unknown or a duplicate
		}
	}
	d.ws()
	if d.i != len(d.b) {
		return nil, false
	}
	return recs, true
}

// usageScanner walks a body for decodeUsageRecords; b[i] is the next byte.
type usageScanner struct {
	b     []byte
	i     int
	buf   []byte // the unescaped text of the last escaped string
	arena []byte // the text of the current record's strings
	spans [numTextFields][2]int
}

// The string fields of a record, which share one allocation: a string per
// field cost as much as the rest of the decoding.
const (
	fRequestID = iota
	fProvider
	fModel
	fStatus
	fClientIP
	fUserAgent
	numTextFields
)

func (d *usageScanner) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *usageScanner) eat(c byte) bool {
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// colon consumes the separator after a member name.
func (d *usageScanner) colon() bool {
	d.ws()
	ok := d.eat(':')
	d.ws()
	return ok
}

// name reads a member name made of the bytes the known names are made of
// (a-z and _), so escaped and case-variant names are not taken.
func (d *usageScanner) name() ([]byte, bool) {
	b, j := d.b, d.i+1
	if d.i >= len(b) || b[d.i] != '"' {
		return nil, false
	}
	for j < len(b) && (b[j] >= 'a' && b[j] <= 'z' || b[j] == '_') {
		j++
	}
	if j >= len(b) || b[j] != '"' {
		return nil, false
	}
	name := b[d.i+1 : j]
	d.i = j + 1
	return name, true
}

// records reads the array of records.
func (d *usageScanner) records() ([]commands.RecordUsage, bool) {
	if !d.eat('[') {
		return nil, false
	}
	// encoding/json turns [] into an empty, non-nil slice
	recs := make([]commands.RecordUsage, 0, min(bytes.Count(d.b[d.i:], []byte{'{'}), MaxBatchRecords))
	d.ws()
	if d.eat(']') {
		return recs, true
	}
	for {
		recs = append(recs, commands.RecordUsage{})
		if !d.record(&recs[len(recs)-1]) {
			return nil, false
		}
		d.ws()
		switch {
		case d.eat(','):
			d.ws()
		case d.eat(']'):
			return recs, true
		default:
			return nil, false
		}
	}
}

// record reads one record object into the zero rec.
func (d *usageScanner) record(rec *commands.RecordUsage) bool {
	if !d.eat('{') {
		return false
	}
	d.ws()
	if d.eat('}') {
		return true
	}
	d.arena = d.arena[:0]
	var seen uint16
	for {
		name, ok := d.name()
		if !ok || !d.colon() {
			return false
		}
		var bit uint16
		switch string(name) {
		case "key_id":
			bit = 1 << 0
			var text []byte
			if _, text, ok = d.str(); ok {
				ok = rec.KeyID.UnmarshalText(text) == nil
			}
		case "request_id":
			bit = 1 << 1
			ok = d.text(fRequestID)
		case "provider":
			bit = 1 << 2
			ok = d.text(fProvider)
		case "model":
			bit = 1 << 3
			ok = d.text(fModel)
		case "input_tokens":
			bit = 1 << 4
			rec.InputTokens, ok = d.int64()
		case "output_tokens":
			bit = 1 << 5
			rec.OutputTokens, ok = d.int64()
		case "cost_micros":
			bit = 1 << 6
			rec.CostMicros, ok = d.int64()
		case "status":
			bit = 1 << 7
			ok = d.text(fStatus)
		case "latency_ms":
			bit = 1 << 8
			rec.LatencyMs, ok = d.int64()
		case "occurred_at":
			bit = 1 << 9
			// encoding/json hands time.Time the literal as sent, quotes
			// and escapes included.
			var raw []byte
			if raw, _, ok = d.str(); ok {
				t := new(time.Time)
				ok = t.UnmarshalJSON(raw) == nil
				rec.OccurredAt = t
			}
		case "client_ip":
			bit = 1 << 10
			ok = d.text(fClientIP)
		case "user_agent":
			bit = 1 << 11
			ok = d.text(fUserAgent)
		default:
			return false
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		d.ws()
		switch {
		case d.eat(','):
			d.ws()
		case d.eat('}'):
			d.setTexts(rec, seen)
			return true
		default:
			return false
		}
	}
}

// text reads a string value of field f into the record's arena.
func (d *usageScanner) text(f int) bool {
	_, text, ok := d.str()
	if !ok {
		return false
	}
	d.spans[f] = [2]int{len(d.arena), len(d.arena) + len(text)}
	d.arena = append(d.arena, text...)
	return true
}

// setTexts gives rec the string fields read (seen) from the arena.
func (d *usageScanner) setTexts(rec *commands.RecordUsage, seen uint16) {
	if seen&(1<<1|1<<2|1<<3|1<<7|1<<10|1<<11) == 0 {
		return
	}
	all := string(d.arena)
	get := func(f int, bit uint16) string {
		if seen&bit == 0 {
			return ""
		}
		return all[d.spans[f][0]:d.spans[f][1]]
	}
	rec.RequestID = get(fRequestID, 1<<1)
	rec.Provider = get(fProvider, 1<<2)
	rec.Model = get(fModel, 1<<3)
	rec.Status = get(fStatus, 1<<7)
	rec.ClientIP = get(fClientIP, 1<<10)
	rec.UserAgent = get(fUserAgent, 1<<11)
}

// int64 reads an integer as encoding/json decodes one into an int64: JSON
// integer syntax, no fraction or exponent, within range.
func (d *usageScanner) int64() (int64, bool) {
	b, i := d.b, d.i
	neg := i < len(b) && b[i] == '-'
	if neg {
		i++
	}
	if i >= len(b) || b[i] < '0' || b[i] > '9' {
		return 0, false
	}
	var u uint64
	if b[i] == '0' {
		i++ // a leading zero stands alone; a digit after it is refused by the caller
	} else {
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			if i-start == 19 {
				return 0, false // beyond any int64
			}
			u = u*10 + uint64(b[i]-'0') // 19 digits fit in a uint64
			i++
		}
	}
	if u > 1<<63-1 && !(neg && u == 1<<63) {
		return 0, false
	}
	d.i = i
	if neg {
		return -int64(u), true
	}
	return int64(u), true
}

// str reads a JSON string: raw is the literal, quotes included, and text its
// value (a slice of the body, or of d.buf when it holds escapes, valid until
// the next string). Control bytes, invalid UTF-8 and escapes that are not
// JSON's are not taken, nor are \u escapes of surrogates other than a
// well-formed pair (encoding/json replaces the others with U+FFFD).
func (d *usageScanner) str() (raw, text []byte, ok bool) {
	b, start := d.b, d.i
	if start >= len(b) || b[start] != '"' {
		return nil, nil, false
	}
	ascii := true
	j := start + 1
	for j < len(b) {
		if c := b[j]; plainASCII[c] {
			j++
		} else if c >= utf8.RuneSelf {
			ascii = false
			j++
		} else {
			break
		}
	}
	if j >= len(b) {
		return nil, nil, false
	}
	switch b[j] {
	case '"':
		text = b[start+1 : j]
		j++
	case '\\':
		if text, j, ok = d.unescape(start+1, j); !ok {
			return nil, nil, false
		}
		ascii = false // checked below, with what followed the escape
	default:
		return nil, nil, false
	}
	raw = b[start:j]
	if !ascii && !utf8.Valid(raw) {
		return nil, nil, false
	}
	d.i = j
	return raw, text, true
}

// unescape decodes the string whose text starts at from and whose first
// escape is at j, returning the text and the offset past the closing quote.
func (d *usageScanner) unescape(from, j int) ([]byte, int, bool) {
	b := d.b
	buf := append(d.buf[:0], b[from:j]...)
	for j < len(b) {
		c := b[j]
		switch {
		case c == '"':
			d.buf = buf
			return buf, j + 1, true
		case c < 0x20:
			return nil, 0, false
		case c != '\\':
			buf = append(buf, c)
			j++
			continue
		}
		if j+1 >= len(b) {
			return nil, 0, false
		}
		switch e := b[j+1]; e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := hex4(b, j+2)
			if !ok {
				return nil, 0, false
			}
			if utf16.IsSurrogate(r) {
				// only a high surrogate escaped right before a low one
				lo, ok := rune(0), j+7 < len(b) && b[j+6] == '\\' && b[j+7] == 'u'
				if ok {
					lo, ok = hex4(b, j+8)
				}
				if !ok || r >= 0xdc00 || lo < 0xdc00 || lo > 0xdfff {
					return nil, 0, false
				}
				r = utf16.DecodeRune(r, lo)
				j += 6
			}
			buf = utf8.AppendRune(buf, r)
			j += 4
		default:
			return nil, 0, false
		}
		j += 2
	}
	return nil, 0, false
}

// plainASCII marks the bytes a string holds as they are: printable ASCII
// other than the quote and the backslash.
var plainASCII = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// hex4 reads the four hex digits at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
