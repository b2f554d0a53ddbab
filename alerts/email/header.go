package email

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxHeaderRunes caps a subject or display name; longer text is cut with "…".
const maxHeaderRunes = 200

// headerText makes s safe for one header line: invalid UTF-8, control
// characters (CR and LF among them), line and paragraph separators and
// bidirectional overrides become spaces, runs of spaces collapse to one, and
// the result is trimmed and cut to maxHeaderRunes. go-mail then encodes
// non-ASCII text (RFC 2047).
func headerText(s string) string {
	s = oneLine(s)
	if utf8.RuneCountInString(s) <= maxHeaderRunes {
		return s
	}
	r := []rune(s)[:maxHeaderRunes-1]
	return strings.TrimRight(string(r), " ") + "…"
}

// oneLine is headerText without the length cap, for names and titles shown
// in the body: a firm name with a line break cannot fake a line of the
// plain-text email.
func oneLine(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range strings.ToValidUTF8(s, " ") {
		if unsafeRune(r) || unicode.IsSpace(r) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

// unsafeRune reports runes that must not reach a header or a single line.
func unsafeRune(r rune) bool {
	switch {
	case r == utf8.RuneError:
		return true
	case unicode.IsControl(r): // C0, DEL, C1: CR, LF, NUL, ESC, NEL…
		return true
	case r == '\u2028' || r == '\u2029': // line and paragraph separators
		return true
	case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069', r == '\u200e', r == '\u200f':
		return true // bidi embeddings, overrides, isolates and marks: spoofing
	case r == '\ufeff':
		return true
	}
	return false
}

// checkMessageID accepts an RFC 5322 msg-id without the angle brackets:
// printable ASCII without spaces, <, >, and exactly one @ with text on both
// sides.
func checkMessageID(id string) error {
	if id == "" {
		return fmt.Errorf("message id is empty")
	}
	if len(id) > 250 {
		return fmt.Errorf("message id is longer than 250 bytes")
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c <= ' ' || c >= 0x7f || c == '<' || c == '>' || c == '"' || c == '\\' || c == '(' || c == ')' || c == ',' || c == ';' || c == ':' || c == '[' || c == ']' {
			return fmt.Errorf("message id %q: character %q not allowed", id, c)
		}
	}
	at := strings.IndexByte(id, '@')
	if at <= 0 || at == len(id)-1 || strings.Count(id, "@") != 1 {
		return fmt.Errorf("message id %q: want left@right", id)
	}
	return nil
}
