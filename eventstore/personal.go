package eventstore

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
)

// Personal parts are small flat structs of strings (email, name, client IP,
// user agent). Encoding them as JSON made decrypting replays twice as slow as
// plain ones, so such structs use a compact binary form instead:
//
//	0x01 { uvarint len(name) name uvarint len(value) value }*
//
// keyed by the JSON field name, so fields can be added or removed across
// schema versions like JSON. A plaintext that starts with '{' is JSON (any
// other personal struct shape, or older data).
const personalBinary = 0x01

type personalSlot struct {
	name  string
	index int
}

// personalLayout returns the binary layout of t, or nil when t has a field
// that is not a string (such types use JSON).
func personalLayout(t reflect.Type) []personalSlot {
	var fields []personalSlot
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		if f.Type.Kind() != reflect.String {
			return nil
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields = append(fields, personalSlot{name: name, index: i})
	}
	return fields
}

func encodePersonal(layout []personalSlot, v reflect.Value) ([]byte, error) {
	if layout == nil {
		return json.Marshal(v.Interface())
	}
	size := 1
	for _, f := range layout {
		size += len(f.name) + v.Field(f.index).Len() + 4
	}
	out := make([]byte, 1, size)
	out[0] = personalBinary
	for _, f := range layout {
		s := v.Field(f.index).String()
		if s == "" {
			continue
		}
		out = binary.AppendUvarint(out, uint64(len(f.name)))
		out = append(out, f.name...)
		out = binary.AppendUvarint(out, uint64(len(s)))
		out = append(out, s...)
	}
	return out, nil
}

var errPersonalFormat = errors.New("eventstore: personal part is garbled")

func decodePersonal(layout []personalSlot, plain []byte, dst reflect.Value) error {
	if len(plain) == 0 || plain[0] != personalBinary {
		return json.Unmarshal(plain, dst.Addr().Interface())
	}
	for b := plain[1:]; len(b) > 0; {
		name, val, rest, ok := nextPersonal(b)
		if !ok {
			return errPersonalFormat
		}
		if i := slotOf(layout, name); i >= 0 {
			dst.Field(layout[i].index).SetString(string(val))
		}
		b = rest
	}
	return nil
}
