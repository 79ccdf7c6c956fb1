package ledger

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/codexion/codexion/platform"
)

// Bounds on what one entry may hold. The event schemas in ledger/events state the same
// bounds (a test holds them equal), so every entry the ledger accepts is an event its
// consumers accept.
const (
	MaxLines               = 500
	MaxTextBytes           = 1000 // reference, description, memo, names, reasons
	maxCodeBytes           = 64   // book, account and journal codes
	MaxDimensions          = 16
	MaxDimensionKeyBytes   = 64
	MaxDimensionValueBytes = 256
	maxMetadataBytes       = 16 << 10
	MaxMetadataDepth       = 8  // the metadata object is level 1
	MaxMetadataMembers     = 64 // keys of one object, items of one array
	MaxMetadataKeyBytes    = 64
	maxMetadataNumberBytes = 32
	// maxClosingLines bounds the year-end closing entry, one line per income and expense
	// account with a balance plus retained earnings.
	maxClosingLines = 10_000
	// maxEchoBytes bounds how much of a refused value an error message repeats.
	maxEchoBytes = 40
	DateLayout   = time.DateOnly
)

// Posting dates (and rate dates, and report dates) lie in [MinDate, MaxDate]: four-digit
// years that every store downstream holds, wide enough for migrated history and any plan.
var (
	MinDate = time.Date(1900, time.January, 1, 0, 0, 0, 0, time.UTC)
	MaxDate = time.Date(2199, time.December, 31, 0, 0, 0, 0, time.UTC)
)

// parseDate reads a YYYY-MM-DD date within [MinDate, MaxDate].
func parseDate(s string) (time.Time, error) {
	d, err := time.Parse(DateLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s is not a date; write it as YYYY-MM-DD", clip(s))
	}
	if d.Before(MinDate) || d.After(MaxDate) {
		return time.Time{}, fmt.Errorf("%s is outside the ledger's dates, %s to %s", s, MinDate.Format(DateLayout), MaxDate.Format(DateLayout))
	}
	return d, nil
}

// clip quotes s for an error message, cut to maxEchoBytes.
func clip(s string) string {
	if len(s) <= maxEchoBytes {
		return strconv.Quote(s)
	}
	cut := maxEchoBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + fmt.Sprintf("... (%d bytes)", len(s))
}

// textProblem says what is wrong with free text of at most maxBytes, or "".
func textProblem(s string, maxBytes int) string {
	switch {
	case len(s) > maxBytes:
		return fmt.Sprintf("is %d bytes; at most %d are allowed", len(s), maxBytes)
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	case strings.IndexByte(s, 0) >= 0:
		return "holds a NUL character; remove it"
	}
	return ""
}

// text checks optional free text.
func (v *validationError) text(field, s string, maxBytes int) {
	if p := textProblem(s, maxBytes); p != "" {
		v.add(field, "%s", p)
	}
}

// code checks a required code.
func (v *validationError) code(field, s string) {
	switch {
	case s == "":
		v.add(field, "is required")
	case !ValidCode(s):
		v.add(field, "%s is not a code: use letters, digits, '.', '_' or '-', at most %d, starting with a letter or digit", clip(s), maxCodeBytes)
	}
}

// dimensions checks a line's dimensions.
func (v *validationError) dimensions(field string, dims map[string]string) {
	if len(dims) > MaxDimensions {
		v.add(field, "has %d dimensions; at most %d are allowed", len(dims), MaxDimensions)
		return
	}
	for k, val := range dims {
		if p := textProblem(k, MaxDimensionKeyBytes); p != "" || k == "" {
			v.add(field, "key %s %s", clip(k), cmpOr(p, "is empty"))
			continue
		}
		if p := textProblem(val, MaxDimensionValueBytes); p != "" {
			v.add(field+"."+k, "%s", p)
		}
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// badCode is the error of a code given in a query parameter or path.
func badCode(name, s string) error {
	return &platform.Error{Kind: platform.CodeInvalid.Kind, Code: platform.CodeInvalid.Code,
		Message: fmt.Sprintf("%s: %s is not a code: use letters, digits, '.', '_' or '-', at most %d", name, clip(s), maxCodeBytes),
		Fields:  []platform.FieldError{{Field: name, Message: "is not a code"}}}
}

// checkMetadata returns what is wrong with an entry's metadata, naming the member, or nil.
// Metadata is a JSON object of at most maxMetadataBytes, nested at most maxMetadataDepth
// levels, with at most maxMetadataMembers keys per object and items per array, keys of at
// most maxMetadataKeyBytes, no duplicate keys, plain decimal numbers, and text that
// Postgres and every consumer store as written: valid UTF-8, no NUL, no lone surrogate.
func checkMetadata(raw json.RawMessage) *platform.FieldError {
	const field = "metadata"
	switch {
	case len(raw) == 0:
		return nil
	case len(raw) > maxMetadataBytes:
		return &platform.FieldError{Field: field, Message: fmt.Sprintf("is %d bytes; at most %d are allowed", len(raw), maxMetadataBytes)}
	case !utf8.Valid(raw):
		return &platform.FieldError{Field: field, Message: "is not valid UTF-8"}
	}
	if p := escapeProblem(raw); p != "" {
		return &platform.FieldError{Field: field, Message: p}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return &platform.FieldError{Field: field, Message: "is not valid JSON"}
	}
	if tok == nil {
		return nil
	}
	if tok != json.Delim('{') {
		return &platform.FieldError{Field: field, Message: "must be a JSON object"}
	}
	return walkObject(dec, field, 1)
}

func walkValue(dec *json.Decoder, path string, depth int) *platform.FieldError {
	tok, err := dec.Token()
	if err != nil {
		return &platform.FieldError{Field: path, Message: "is not valid JSON"}
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth >= MaxMetadataDepth {
			return &platform.FieldError{Field: path, Message: fmt.Sprintf("nests deeper than %d levels", MaxMetadataDepth)}
		}
		if t == '{' {
			return walkObject(dec, path, depth+1)
		}
		return walkArray(dec, path, depth+1)
	case json.Number:
		if len(t) > maxMetadataNumberBytes || strings.ContainsAny(string(t), "eE") {
			return &platform.FieldError{Field: path, Message: fmt.Sprintf("%s is not a plain number of at most %d characters (no exponent); send it as a string",
				clip(string(t)), maxMetadataNumberBytes)}
		}
	}
	return nil
}

func walkObject(dec *json.Decoder, path string, depth int) *platform.FieldError {
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return &platform.FieldError{Field: path, Message: "is not valid JSON"}
		}
		key, _ := tok.(string)
		switch {
		case len(seen) == MaxMetadataMembers:
			return &platform.FieldError{Field: path, Message: fmt.Sprintf("has more than %d keys", MaxMetadataMembers)}
		case len(key) > MaxMetadataKeyBytes:
			return &platform.FieldError{Field: path, Message: fmt.Sprintf("key %s is longer than %d bytes", clip(key), MaxMetadataKeyBytes)}
		case seen[key]:
			return &platform.FieldError{Field: path, Message: fmt.Sprintf("key %s appears twice", clip(key))}
		}
		seen[key] = true
		if f := walkValue(dec, path+"."+key, depth); f != nil {
			return f
		}
	}
	_, err := dec.Token() // '}'
	if err != nil {
		return &platform.FieldError{Field: path, Message: "is not valid JSON"}
	}
	return nil
}

func walkArray(dec *json.Decoder, path string, depth int) *platform.FieldError {
	for i := 0; dec.More(); i++ {
		if i == MaxMetadataMembers {
			return &platform.FieldError{Field: path, Message: fmt.Sprintf("has more than %d items", MaxMetadataMembers)}
		}
		if f := walkValue(dec, fmt.Sprintf("%s[%d]", path, i), depth); f != nil {
			return f
		}
	}
	if _, err := dec.Token(); err != nil { // ']'
		return &platform.FieldError{Field: path, Message: "is not valid JSON"}
	}
	return nil
}

// escapeProblem finds \u escapes that Postgres's jsonb refuses and Go's decoder would
// silently replace: NUL and unpaired UTF-16 surrogates. Backslashes only occur in strings.
func escapeProblem(raw []byte) string {
	for i := 0; i+1 < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		if raw[i+1] != 'u' {
			i++
			continue
		}
		r := hex4(raw, i+2)
		switch {
		case r == 0:
			return `holds a NUL character (\u0000); remove it`
		case r >= 0xD800 && r <= 0xDBFF:
			if lo := hex4(raw, i+8); i+7 >= len(raw) || raw[i+6] != '\\' || raw[i+7] != 'u' || lo < 0xDC00 || lo > 0xDFFF {
				return "holds an unpaired UTF-16 surrogate escape; send valid Unicode"
			}
			i += 11
			continue
		case r >= 0xDC00 && r <= 0xDFFF:
			return "holds an unpaired UTF-16 surrogate escape; send valid Unicode"
		}
		i += 5
	}
	return ""
}

// hex4 reads four hex digits at raw[i:], or -1.
func hex4(raw []byte, i int) int {
	if i+4 > len(raw) {
		return -1
	}
	n, err := strconv.ParseUint(string(raw[i:i+4]), 16, 32)
	if err != nil {
		return -1
	}
	return int(n)
}
