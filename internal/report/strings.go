package report

import (
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// checkStrings holds every string of a parsed message (keys too, at any
// depth) to RFC 8259 and to Unicode: valid UTF-8, escapes that are one of
// \" \\ \/ \b \f \n \r \t \uXXXX, no raw control characters, and \u escapes
// of UTF-16 surrogates only in high-low pairs. fastjson tolerates all of
// these and would pass a lone \ud800 on as the six characters `\ud800`, or
// turn it into U+FFFD: a report is refused (invalid_encoding,
// malformed_json) rather than silently altered.
//
// data has been parsed by fastjson, so outside strings it holds only JSON
// tokens and whitespace: a byte ≥ 0x80 or a backslash can only be in a string.
func checkStrings(data []byte) *Problem {
	// Fast path: with no backslash and no control character (not even
	// whitespace, which may be inside a string), valid UTF-8 is all there is
	// to check.
	simple := true
	for _, c := range data {
		if c == '\\' || c < 0x20 {
			simple = false
			break
		}
	}
	if simple && utf8.Valid(data) {
		return nil
	}
	return scanStrings(data)
}

// stringScan tracks where the scan is, to name the field at fault: the
// key at depth 1 (a top-level field) and at depth 2 (a separation reason).
type stringScan struct {
	data   []byte
	depth  int
	object uint64 // bit d set: the container at depth d+1 is an object
	expect bool   // the next string of the current object is a key
	keys   [2][]byte
}

func scanStrings(data []byte) *Problem {
	s := stringScan{data: data}
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '{', '[':
			if s.depth < 64 && c == '{' {
				s.object |= 1 << s.depth
			} else if s.depth < 64 {
				s.object &^= 1 << s.depth
			}
			s.depth++
			s.expect = c == '{'
		case '}', ']':
			s.depth--
			s.expect = false
		case ',':
			s.expect = s.inObject()
		case '"':
			isKey := s.expect
			end, prob := s.str(i+1, isKey)
			if prob != nil {
				return prob
			}
			if isKey && s.depth >= 1 && s.depth <= 2 {
				s.keys[s.depth-1] = data[i+1 : end]
				if s.depth == 1 {
					s.keys[1] = nil
				}
			}
			s.expect = false
			i = end
		}
	}
	return nil
}

func (s *stringScan) inObject() bool {
	return s.depth >= 1 && s.depth <= 64 && s.object&(1<<(s.depth-1)) != 0
}

// str checks the string whose contents start at i and returns the index of
// its closing quote.
func (s *stringScan) str(i int, isKey bool) (int, *Problem) {
	data := s.data
	for i < len(data) {
		c := data[i]
		switch {
		case c == '"':
			return i, nil
		case c < 0x20:
			return 0, s.problem(ReasonMalformedJSON, isKey, i, "holds a raw control character U+%04X; escape it", c)
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size <= 1 {
				return 0, s.problem(ReasonInvalidEncoding, isKey, i, "holds bytes that are not UTF-8")
			}
			i += size
			continue
		case c != '\\':
			i++
			continue
		}
		// an escape
		if i+1 >= len(data) {
			break
		}
		switch e := data[i+1]; e {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i += 2
			continue
		case 'u':
			r, ok := hex4(data, i+2)
			if !ok {
				return 0, s.problem(ReasonMalformedJSON, isKey, i, "has an invalid escape %q: \\u takes 4 hex digits", clip(data[i:], 6))
			}
			if !utf16.IsSurrogate(r) {
				i += 6
				continue
			}
			if r < 0xdc00 && i+12 <= len(data) && data[i+6] == '\\' && data[i+7] == 'u' {
				if lo, ok := hex4(data, i+8); ok && lo >= 0xdc00 && lo <= 0xdfff {
					i += 12
					continue
				}
			}
			return 0, s.problem(ReasonInvalidEncoding, isKey, i, "escapes a lone UTF-16 surrogate \\u%04x, which is not a character", r)
		default:
			return 0, s.problem(ReasonMalformedJSON, isKey, i, "has an invalid escape \\%c", e)
		}
	}
	return len(data), nil // unterminated: fastjson would not have parsed it
}

func hex4(data []byte, i int) (rune, bool) {
	if i+4 > len(data) {
		return 0, false
	}
	var r rune
	for _, c := range data[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

func clip(b []byte, n int) string { return string(b[:min(n, len(b))]) }

// problem names the field of the string at fault: a top-level field's
// name, or separations.<reason>; a key's fault is its object's.
func (s *stringScan) problem(reason string, isKey bool, at int, format string, args ...any) *Problem {
	field := ""
	depth := s.depth
	if isKey {
		depth-- // a key belongs to the object that holds it
	}
	if depth >= 1 && plainKey(s.keys[0]) {
		field = string(s.keys[0])
		if depth >= 2 && field == "separations" && plainKey(s.keys[1]) {
			field += "." + string(s.keys[1])
		}
	}
	what := field
	switch {
	case isKey:
		what = "a key"
		if field != "" {
			what += " in " + field
		}
	case field == "":
		what = "a string"
	}
	return &Problem{Reason: reason, Field: field, Message: fmt.Sprintf("%s %s (at byte %d)", what, fmt.Sprintf(format, args...), at)}
}

// plainKey reports whether a raw key can name a field: no escape, and
// valid UTF-8 (a key with neither is not one of the schema's anyway).
func plainKey(k []byte) bool {
	if len(k) == 0 || !utf8.Valid(k) {
		return false
	}
	for _, c := range k {
		if c == '\\' || c < 0x20 {
			return false
		}
	}
	return true
}
