package eventstore

import (
	"encoding/binary"
	"reflect"
)

// decodePersonalShared is decodePersonal for replays: the values of the
// binary form share one allocation of exactly their size (a replay opens
// millions of personal parts, and a string per field was most of their cost
// after the cipher). It packs the values it keeps at the front of plain, in
// one pass, and copies them out as one string: plain is overwritten and not
// kept, so the caller may wipe it.
func decodePersonalShared(layout []personalSlot, plain []byte, dst reflect.Value) error {
	if len(plain) == 0 || plain[0] != personalBinary {
		return decodePersonal(layout, plain, dst)
	}
	type span struct{ off, end int32 }
	var found [8]span // by layout index; end 0: absent
	if len(layout) > len(found) {
		return decodePersonal(layout, plain, dst)
	}
	w := 0
	for b := plain[1:]; len(b) > 0; {
		name, val, rest, ok := nextPersonal(b)
		if !ok {
			return errPersonalFormat
		}
		if i := slotOf(layout, name); i >= 0 && len(val) > 0 {
			// val starts past w (its name and lengths precede it), so
			// packing it forward never overwrites what is still unread
			copy(plain[w:], val)
			found[i] = span{int32(w), int32(w + len(val))}
			w += len(val)
		} else if i >= 0 {
			found[i] = span{} // a repeated name: the last value counts
		}
		b = rest
	}
	vals := string(plain[:w])
	for i, sp := range found[:len(layout)] {
		if sp.end > 0 {
			dst.Field(layout[i].index).SetString(vals[sp.off:sp.end])
		}
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
