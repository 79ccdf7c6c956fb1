package httpx

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/codexion/codexion/platform"
)

// MaxJSONDepth bounds how deeply a request body's objects and arrays may nest. Bodies are
// checked before they are decoded, so a deeper one is refused before any work is done on it.
const MaxJSONDepth = 32

// foldKeysLinear is how many keys an object may have before duplicate checks switch
// from comparing with every earlier key to a map of folded keys.
const foldKeysLinear = 16

// CheckJSON walks data once, before it is decoded, and refuses what encoding/json would
// accept silently: a key given twice in one object (the last would win), two keys that
// differ only in case (both would fill the same struct field), invalid UTF-8 and lone
// surrogate escapes (replaced by U+FFFD), NUL characters in strings (which Postgres text
// cannot hold), and nesting deeper than maxDepth (MaxJSONDepth for request bodies).
// Syntax errors are left to the decoder, which says where they are.
func CheckJSON(data []byte, maxDepth int) error {
	w := walker{data: data, maxDepth: maxDepth}
	w.value()
	return w.err
}

// frame is one open object or array; key and index say where in it the walk is, so an
// error can name the field without the walk building paths for fields that are fine.
type frame struct {
	object bool
	key    []byte   // the current key, unescaped (objects)
	index  int      // the current element (arrays)
	keys   [][]byte // keys seen so far, while there are few (objects)
	folded map[string]struct{}
}

type walker struct {
	data     []byte
	maxDepth int
	pos      int
	stack    []frame
	err      error
	// syntax is set when the bytes are not JSON; the decoder reports those.
	syntax bool
	inKey  bool // the string being walked is a key
}

func (w *walker) stop() bool { return w.err != nil || w.syntax }

func (w *walker) space() {
	for w.pos < len(w.data) {
		switch w.data[w.pos] {
		case ' ', '\t', '\n', '\r':
			w.pos++
		default:
			return
		}
	}
}

func (w *walker) value() {
	w.space()
	if w.pos >= len(w.data) {
		w.syntax = true
		return
	}
	switch w.data[w.pos] {
	case '{':
		w.container(true)
	case '[':
		w.container(false)
	case '"':
		w.str(false)
	default:
		// Numbers and literals: the decoder checks their syntax.
		for w.pos < len(w.data) {
			switch w.data[w.pos] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return
			}
			w.pos++
		}
	}
}

func (w *walker) container(object bool) {
	if len(w.stack) >= w.maxDepth {
		w.fail("nests objects and arrays deeper than %d levels", w.maxDepth)
		return
	}
	if n := len(w.stack); n < cap(w.stack) {
		// Reuse the frame (and its key slice) an earlier sibling left behind.
		w.stack = w.stack[:n+1]
		w.stack[n] = frame{object: object, keys: w.stack[n].keys[:0]}
	} else {
		w.stack = append(w.stack, frame{object: object})
	}
	defer func() { w.stack = w.stack[:len(w.stack)-1] }()
	closer := byte(']')
	if object {
		closer = '}'
	}
	w.pos++ // '{' or '['
	w.space()
	if w.pos < len(w.data) && w.data[w.pos] == closer {
		w.pos++
		return
	}
	for i := 0; !w.stop(); i++ {
		top := &w.stack[len(w.stack)-1]
		top.index = i
		if object {
			w.space()
			if w.pos >= len(w.data) || w.data[w.pos] != '"' {
				w.syntax = true
				return
			}
			key := w.str(true)
			if w.stop() {
				return
			}
			w.addKey(key)
			if w.stop() {
				return
			}
			w.space()
			if w.pos >= len(w.data) || w.data[w.pos] != ':' {
				w.syntax = true
				return
			}
			w.pos++
		}
		w.value()
		if w.stop() {
			return
		}
		w.space()
		if w.pos >= len(w.data) {
			w.syntax = true
			return
		}
		switch w.data[w.pos] {
		case ',':
			w.pos++
		case closer:
			w.pos++
			return
		default:
			w.syntax = true
			return
		}
	}
}

// addKey records key in the innermost object and refuses it if the object already has
// it, or has a key that differs from it only in case.
func (w *walker) addKey(key []byte) {
	top := &w.stack[len(w.stack)-1]
	top.key = key
	if top.folded == nil {
		for _, k := range top.keys {
			if bytes.EqualFold(k, key) {
				w.duplicate(k, key)
				return
			}
		}
		if len(top.keys) < foldKeysLinear {
			top.keys = append(top.keys, key)
			return
		}
		top.folded = make(map[string]struct{}, 2*foldKeysLinear)
		for _, k := range top.keys {
			top.folded[foldKey(k)] = struct{}{}
		}
	}
	f := foldKey(key)
	if _, dup := top.folded[f]; dup {
		for _, k := range top.keys { // name the earlier spelling when it is at hand
			if bytes.EqualFold(k, key) {
				w.duplicate(k, key)
				return
			}
		}
		w.duplicate(key, key)
		return
	}
	top.folded[f] = struct{}{}
}

func (w *walker) duplicate(earlier, key []byte) {
	top := &w.stack[len(w.stack)-1]
	top.key = nil // name the object, not the key twice
	if bytes.Equal(earlier, key) {
		w.fail("has the key %q twice; send each key once", key)
		return
	}
	w.fail("has the keys %q and %q, which differ only in case; send one of them", earlier, key)
}

// foldKey maps key to one spelling per case-insensitive class, as bytes.EqualFold sees them.
func foldKey(key []byte) string {
	var b strings.Builder
	b.Grow(len(key))
	for _, r := range string(key) {
		// The smallest rune of r's fold orbit stands for all of them.
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < least {
				least = f
			}
		}
		b.WriteRune(least)
	}
	return b.String()
}

// str walks a string starting at its opening quote. With wantKey it returns the
// string's unescaped bytes (a slice of data when there are no escapes).
func (w *walker) str(wantKey bool) []byte {
	w.inKey = wantKey
	w.pos++ // opening quote
	start := w.pos
	var buf []byte // unescaped key, only once an escape is seen
	escaped := false
	for w.pos < len(w.data) {
		c := w.data[w.pos]
		switch {
		case c == '"':
			end := w.pos
			w.pos++
			if !wantKey {
				return nil
			}
			if escaped {
				return buf
			}
			return w.data[start:end]
		case c == '\\':
			if wantKey && !escaped {
				buf = append(buf, w.data[start:w.pos]...)
			}
			escaped = true
			r, ok := w.escape()
			if !ok {
				return nil
			}
			if wantKey {
				buf = utf8.AppendRune(buf, r)
			}
			continue
		case c < 0x20:
			w.syntax = true // the decoder says where
			return nil
		case c < utf8.RuneSelf:
			w.pos++
		default:
			r, size := utf8.DecodeRune(w.data[w.pos:])
			if r == utf8.RuneError && size <= 1 {
				w.failIn("holds bytes that are not valid UTF-8 (at byte %d); send UTF-8 text", w.pos)
				return nil
			}
			w.pos += size
			if wantKey && escaped {
				buf = append(buf, w.data[w.pos-size:w.pos]...)
			}
			continue
		}
		if wantKey && escaped {
			buf = append(buf, c)
		}
	}
	w.syntax = true
	return nil
}

// escape reads one backslash escape and returns the rune it stands for.
func (w *walker) escape() (rune, bool) {
	if w.pos+1 >= len(w.data) {
		w.syntax = true
		return 0, false
	}
	c := w.data[w.pos+1]
	w.pos += 2
	switch c {
	case '"', '\\', '/':
		return rune(c), true
	case 'b':
		return '\b', true
	case 'f':
		return '\f', true
	case 'n':
		return '\n', true
	case 'r':
		return '\r', true
	case 't':
		return '\t', true
	case 'u':
	default:
		w.syntax = true
		return 0, false
	}
	r, ok := w.hex4()
	if !ok {
		return 0, false
	}
	switch {
	case r == 0:
		w.failIn("holds a NUL character (\\u0000); text may not contain it")
		return 0, false
	case utf16.IsSurrogate(r):
		if w.pos+1 < len(w.data) && w.data[w.pos] == '\\' && w.data[w.pos+1] == 'u' {
			w.pos += 2
			r2, ok := w.hex4()
			if !ok {
				return 0, false
			}
			if d := utf16.DecodeRune(r, r2); d != unicode.ReplacementChar {
				return d, true
			}
		}
		w.failIn("holds an unpaired UTF-16 surrogate escape; send valid Unicode text")
		return 0, false
	}
	return r, true
}

func (w *walker) hex4() (rune, bool) {
	if w.pos+4 > len(w.data) {
		w.syntax = true
		return 0, false
	}
	n, err := strconv.ParseUint(string(w.data[w.pos:w.pos+4]), 16, 32)
	if err != nil {
		w.syntax = true
		return 0, false
	}
	w.pos += 4
	return rune(n), true
}

// failIn reports a bad string, naming the object when the string is one of its keys.
func (w *walker) failIn(format string, args ...any) {
	if w.inKey && len(w.stack) > 0 {
		w.stack[len(w.stack)-1].key = nil
		w.fail("has a key that "+format, args...)
		return
	}
	w.fail(format, args...)
}

// fail records an error naming the field the walk is in.
func (w *walker) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	field := w.path()
	if field == "" {
		w.err = platform.Invalid("body %s", msg)
		return
	}
	e := platform.Invalid("field %q %s", field, msg)
	e.Fields = []platform.FieldError{{Field: field, Message: msg}}
	w.err = e
}

// path names the current position as the API reference does: lines[2].account.
func (w *walker) path() string {
	var b strings.Builder
	for _, f := range w.stack {
		switch {
		case !f.object:
			b.WriteString("[" + strconv.Itoa(f.index) + "]")
		case f.key != nil:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(strings.ToValidUTF8(string(f.key), "\uFFFD"))
		}
	}
	return b.String()
}
