package eventstore

import (
	"encoding/binary"
	"reflect"
	"strings"
)

// decodePersonalShared is decodePersonal for replays: the values of the
// binary form share one allocation (a replay opens millions of personal
// parts, and a string per field was most of their cost after the cipher).
// plain is not kept, so the caller may wipe it.
func decodePersonalShared(layout []personalSlot, plain []byte, dst reflect.Value) error {
	if len(plain) == 0 || plain[0] != personalBinary {
		return decodePersonal(layout, plain, dst)
	}
	var vals strings.Builder
	// the values fit in the plaintext's length: one allocation, and earlier
	// values never move (the builder does not grow again)
	vals.Grow(len(plain))
	for b := plain[1:]; len(b) > 0; {
		name, val, rest, ok := nextPersonal(b)
		if !ok {
			return errPersonalFormat
		}
		if i := slotOf(layout, name); i >= 0 {
			off := vals.Len()
			vals.Write(val)
			dst.Field(layout[i].index).SetString(vals.String()[off:])
		}
		b = rest
	}
	return nil
}

// nextPersonal splits the next name and value of the binary form off b.
func nextPersonal(b []byte) (name, val, rest []byte, ok bool) {
	field := func() ([]byte, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return nil, false
		}
		v := b[k : k+int(n)]
		b = b[k+int(n):]
		return v, true
	}
	if name, ok = field(); !ok {
		return nil, nil, nil, false
	}
	if val, ok = field(); !ok {
		return nil, nil, nil, false
	}
	return name, val, b, true
}

// slotOf is the index in layout of the field named name, or -1.
func slotOf(layout []personalSlot, name []byte) int {
	for i := range layout {
		if layout[i].name == string(name) { // no allocation: compiler-optimised comparison
			return i
		}
	}
	return -1
}
