package alerts

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"

	"strconv"
	"strings"
	"time"
)

// Signer makes and checks acknowledge links: HMAC-SHA256 over the alert,
// the recipient and the expiry, so a link acknowledges one alert for one
// official until it expires, and cannot be altered.
type Signer struct {
	key    []byte
	expiry time.Duration
	now    func() time.Time
}

// Errors of Verify.
var (
	ErrBadSignature = errors.New("the link is not valid: it was altered or not made by this server")
	ErrExpired      = errors.New("the link has expired")
)

// CanonicalRecipient is the form a recipient is signed, compared and
// stored in: trimmed and lower-case, so CG@x and cg@x are one official.
func CanonicalRecipient(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// NewSigner signs with key; links expire after expiry.
func NewSigner(key []byte, expiry time.Duration, now func() time.Time) *Signer {
	return &Signer{key: key, expiry: expiry, now: now}
}

func (s *Signer) mac(alertID, recipient string, exp int64) string {
	h := hmac.New(sha256.New, s.key)
	h.Write([]byte(alertID + "\n" + CanonicalRecipient(recipient) + "\n" + strconv.FormatInt(exp, 10)))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// Link returns the acknowledge URL for alertID and recipient under base.
func (s *Signer) Link(base, alertID, recipient string) string {
	exp := s.now().Add(s.expiry).Unix()
	q := url.Values{"a": {alertID}, "r": {CanonicalRecipient(recipient)}, "e": {strconv.FormatInt(exp, 10)}, "s": {s.mac(alertID, recipient, exp)}}
	return strings.TrimRight(base, "/") + "/ack?" + q.Encode()
}

// Verify checks a link's parameters. An expiry further ahead than this
// server ever signs (its link lifetime, with a few minutes of clock skew)
// is refused too: a link valid until 2100 was not made here.
func (s *Signer) Verify(alertID, recipient, exp, sig string) error {
	e, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || alertID == "" || recipient == "" {
		return ErrBadSignature
	}
	if e > s.now().Add(s.expiry+5*time.Minute).Unix() {
		return ErrBadSignature
	}
	if !hmac.Equal([]byte(sig), []byte(s.mac(alertID, recipient, e))) {
		return ErrBadSignature
	}
	if s.now().Unix() > e {
		return ErrExpired
	}
	return nil
}
