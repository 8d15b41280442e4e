package usage

import (
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// AppendJSON appends the public part of e exactly as json.Marshal(e) writes
// it (the tests compare the two on random and hostile values). Usage is the
// high-volume event: encoding it by hand costs a fraction of the reflective
// encoder, and that CPU goes to the database on a shared machine. Anything
// the short path does not cover byte for byte (a string needing escapes, a
// year json.Marshal refuses) is handed to encoding/json.
func (e Recorded) AppendJSON(dst []byte) ([]byte, error) {
	if !plainJSON(e.RequestID) || !plainJSON(e.Provider) || !plainJSON(e.Model) || !plainJSON(e.Status) ||
		e.OccurredAt.Year() < 0 || e.OccurredAt.Year() > 9999 {
		b, err := json.Marshal(e)
		return append(dst, b...), err
	}
	dst = append(dst, `{"request_id":"`...)
	dst = append(dst, e.RequestID...)
	dst = append(dst, `","key_id":"`...)
	dst = appendUUID(dst, e.KeyID)
	dst = append(dst, `","account_id":"`...)
	dst = appendUUID(dst, e.AccountID)
	dst = append(dst, `","provider":"`...)
	dst = append(dst, e.Provider...)
	dst = append(dst, `","model":"`...)
	dst = append(dst, e.Model...)
	dst = append(dst, `","input_tokens":`...)
	dst = strconv.AppendInt(dst, e.InputTokens, 10)
	dst = append(dst, `,"output_tokens":`...)
	dst = strconv.AppendInt(dst, e.OutputTokens, 10)
	dst = append(dst, `,"cost_micros":`...)
	dst = strconv.AppendInt(dst, e.CostMicros, 10)
	dst = append(dst, `,"status":"`...)
	dst = append(dst, e.Status...)
	dst = append(dst, `","latency_ms":`...)
	dst = strconv.AppendInt(dst, e.LatencyMs, 10)
	dst = append(dst, `,"occurred_at":"`...)
	dst = e.OccurredAt.AppendFormat(dst, time.RFC3339Nano)
	return append(dst, `"}`...), nil
}

// plainJSON reports whether encoding/json writes s between quotes unchanged:
// printable ASCII other than the quote, the backslash and the characters it
// escapes for HTML (<, > and &).
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// appendUUID appends u in its canonical 36-character form, as u.String().
func appendUUID(dst []byte, u uuid.UUID) []byte {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return append(dst, b[:]...)
}
