package console

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gorilla/securecookie"
)

// Sessions are signed and encrypted cookies (gorilla/securecookie:
// HMAC-SHA256 and AES-256), not server-side records: any replica holding
// the same keys reads them, and they survive a restart, with no session
// store to run beside ClickHouse. What a stateless cookie cannot do by
// itself — end early — the account's epoch does: a session carries the
// epoch it was issued under, and sign-out, a password reset or disabling
// the account raise the stored epoch, which ends every older session on
// every replica at its next request.

const (
	sessionCookie = "lw_console"
	preCookie     = "lw_console_pre" // the sign-in form's token, before any session
	langCookie    = "lw_console_lang"
)

// session is what the cookie holds.
type session struct {
	User   string `json:"u"`
	Epoch  uint64 `json:"e"`
	CSRF   string `json:"c"` // the token every form of this session carries
	Issued int64  `json:"i"`
	Nonce  string `json:"n"` // makes every sign-in's cookie new (no fixation)
}

// preSession is the token of a sign-in form (and of an OIDC round trip).
type preSession struct {
	CSRF   string `json:"c"`
	State  string `json:"s,omitempty"`
	Nonce  string `json:"n,omitempty"`
	Issued int64  `json:"i"`
}

type sessionKeys struct{ codec *securecookie.SecureCookie }

// loadSessionKeys reads the keys from file, or from dir/session.keys,
// generating the latter at first start (0600).
func loadSessionKeys(file, dir string) (*sessionKeys, error) {
	var raw []byte
	switch {
	case file != "":
		b, err := os.ReadFile(file) //nolint:gosec // the operator names the file
		if err != nil {
			return nil, fmt.Errorf("session keys: %w", err)
		}
		raw = b
	default:
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("session keys: %w", err)
		}
		path := filepath.Join(dir, "session.keys")
		b, err := os.ReadFile(path) //nolint:gosec // under the data directory
		if errors.Is(err, fs.ErrNotExist) {
			b, err = generateKeyFile(path)
		}
		if err != nil {
			return nil, fmt.Errorf("session keys: %w", err)
		}
		raw = b
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil || len(key) != 96 {
		return nil, errors.New("session keys: the file must hold the hex of 96 random bytes (openssl rand -hex 96)")
	}
	codec := securecookie.New(key[:64], key[64:])
	codec.MaxAge(0) // expiry is the session's own Issued + TTL
	codec.SetSerializer(securecookie.JSONEncoder{})
	return &sessionKeys{codec: codec}, nil
}

// generateKeyFile writes fresh keys; when another process won the race to
// create the file, its keys are read instead.
func generateKeyFile(path string) ([]byte, error) {
	key := make([]byte, 96)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) //nolint:gosec // under the data directory
	if errors.Is(err, fs.ErrExist) {
		return os.ReadFile(path) //nolint:gosec // under the data directory
	}
	if err != nil {
		return nil, err
	}
	data := []byte(hex.EncodeToString(key) + "\n")
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return nil, err
	}
	return data, f.Close()
}

func (c *Console) secure() bool { return strings.HasPrefix(c.opts.BaseURL, "https://") }

func (c *Console) cookie(name, value string, maxAge int) *http.Cookie {
	// Secure whenever the console is reached over https (--base-url); the
	// demo and tests run on plain loopback HTTP
	return &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true, Secure: c.secure(), SameSite: http.SameSiteLaxMode} //nolint:gosec // see above
}

// setSession starts a new session for user: a fresh nonce and CSRF token,
// whatever cookie the browser had before (so a planted cookie is never
// promoted to a signed-in session).
func (c *Console) setSession(w http.ResponseWriter, u User) (session, error) {
	s := session{User: u.Username, Epoch: u.Epoch, CSRF: randomHex(16), Issued: c.now().Unix(), Nonce: randomHex(8)}
	v, err := c.keys.codec.Encode(sessionCookie, s)
	if err != nil {
		return s, fmt.Errorf("encode session: %w", err)
	}
	http.SetCookie(w, c.cookie(sessionCookie, v, int(c.opts.SessionTTL/time.Second)))
	http.SetCookie(w, c.cookie(preCookie, "", -1))
	return s, nil
}

func (c *Console) clearSession(w http.ResponseWriter) {
	http.SetCookie(w, c.cookie(sessionCookie, "", -1))
}

// readSession decodes the session cookie; it does not check the account.
func (c *Console) readSession(r *http.Request) (session, bool) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return session{}, false
	}
	var s session
	if err := c.keys.codec.Decode(sessionCookie, ck.Value, &s); err != nil {
		return session{}, false
	}
	issued := time.Unix(s.Issued, 0)
	if now := c.now(); issued.After(now.Add(time.Minute)) || now.Sub(issued) > c.opts.SessionTTL {
		return session{}, false
	}
	return s, s.User != "" && s.CSRF != ""
}

// newPre sets a fresh pre-session (sign-in form token) and returns it.
func (c *Console) newPre(w http.ResponseWriter, state, nonce string) (preSession, error) {
	p := preSession{CSRF: randomHex(16), State: state, Nonce: nonce, Issued: c.now().Unix()}
	v, err := c.keys.codec.Encode(preCookie, p)
	if err != nil {
		return p, fmt.Errorf("encode pre-session: %w", err)
	}
	http.SetCookie(w, c.cookie(preCookie, v, 3600))
	return p, nil
}

func (c *Console) readPre(r *http.Request) (preSession, bool) {
	ck, err := r.Cookie(preCookie)
	if err != nil {
		return preSession{}, false
	}
	var p preSession
	if err := c.keys.codec.Decode(preCookie, ck.Value, &p); err != nil {
		return preSession{}, false
	}
	if c.now().Sub(time.Unix(p.Issued, 0)) > time.Hour {
		return preSession{}, false
	}
	return p, p.CSRF != ""
}
