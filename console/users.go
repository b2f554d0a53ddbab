package console

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/region"
)

// Role is what an account may do.
type Role string

// Roles, from the least power.
const (
	ReadOnly   Role = "read-only"  // sees the warnings of its region; changes nothing
	Official   Role = "official"   // works the cases of its region
	Supervisor Role = "supervisor" // also reopens closed cases
	Admin      Role = "admin"      // also reads the audit trail and the accounts
)

// Roles lists the roles.
var Roles = []Role{ReadOnly, Official, Supervisor, Admin}

// ParseRole checks a role name.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("role %q is not one of read-only, official, supervisor, admin", s)
}

// CanAct reports whether the role may change a case.
func (r Role) CanAct() bool { return r == Official || r == Supervisor || r == Admin }

// CanReopen reports whether the role may reopen a closed case.
func (r Role) CanReopen() bool { return r == Supervisor || r == Admin }

// User is a console account. Region is the scope: a county, prefecture or
// province code; the account sees and acts on the warnings of that region
// and of the regions inside it, and on nothing else.
type User struct {
	Username     string
	Name         string
	Email        string
	Role         Role
	Region       string
	Language     string // zh-CN (default) or en
	PasswordHash string // argon2id, PHC format; empty: password sign-in off (OIDC only)
	OIDCSubject  string // "issuer|subject" of the identity provider's account, optional
	Disabled     bool
	Epoch        uint64 // sessions issued before are void
	Created      time.Time
	Changed      time.Time
	Version      uint64
}

// Covers reports whether code (a warning's region) is in the user's scope.
func (u User) Covers(code string) bool { return covers(u.Region, code) }

func covers(scope, code string) bool {
	if len(code) != 6 || len(scope) != 6 {
		return false
	}
	switch region.LevelOf(scope) {
	case region.Province:
		return region.ProvinceOf(code) == scope
	case region.Prefecture:
		return code == scope || region.LevelOf(code) == region.County && region.PrefectureOf(code) == scope
	default:
		return code == scope
	}
}

var usernameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,63}$`)

// Validate checks an account's fields.
func (u User) Validate() error {
	switch {
	case !usernameRe.MatchString(u.Username):
		return fmt.Errorf("username %q must be 2–64 lower-case letters, digits, '.', '_' or '-'", u.Username)
	case u.Name == "" || utf8.RuneCountInString(u.Name) > 100 || strings.ContainsAny(u.Name, "\r\n\x00"):
		return errors.New("name must be one line of 1–100 characters")
	}
	addr, err := mail.ParseAddress(u.Email)
	if err != nil || addr.Address != u.Email || u.Email != strings.ToLower(u.Email) {
		return fmt.Errorf("email %q must be a plain lower-case address", u.Email)
	}
	if _, err := ParseRole(string(u.Role)); err != nil {
		return err
	}
	if _, ok := region.China().Lookup(u.Region); !ok {
		return fmt.Errorf("region %q is not a division code of mainland China", u.Region)
	}
	if u.Language != "zh-CN" && u.Language != "en" {
		return fmt.Errorf("language %q is not zh-CN or en", u.Language)
	}
	return nil
}

// Password hashing: argon2id with the parameters OWASP recommends as a
// minimum (19 MiB, 2 passes, 1 lane), in the PHC string format, so the
// parameters can be raised later without invalidating stored hashes.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

// MinPasswordLength is the shortest password accepted.
const MinPasswordLength = 12

// HashPassword hashes a password with a fresh salt.
func HashPassword(pw string) (string, error) {
	if utf8.RuneCountInString(pw) < MinPasswordLength || len(pw) > 1024 {
		return "", fmt.Errorf("a password must have %d to 1024 characters", MinPasswordLength)
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// dummyHash is checked against when the account does not exist, so the
// answer takes as long as for a wrong password.
var dummyHash, _ = HashPassword("not-a-password-of-anyone")

// CheckPassword reports whether pw matches the PHC string hash.
func CheckPassword(hash, pw string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var v int
	var m uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || m > 1<<20 || t == 0 || t > 10 || p == 0 {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want))) //nolint:gosec // len(want) is a short hash
	return subtle.ConstantTimeCompare(got, want) == 1
}

// RandomPassword returns a password of 20 characters from a crypto source.
func RandomPassword() string {
	b := make([]byte, 15)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Users manages console accounts from the command line (`layoffwatch
// users`); every change is audited with the actor "cli".
type Users struct {
	st    *store
	now   func() time.Time
	actor string
}

// NewUsers manages the accounts stored on ch; actor names who runs the
// command, for the audit trail.
func NewUsers(ch *chdb.Client, actor string) *Users {
	return &Users{st: &store{ch: ch}, now: time.Now, actor: "cli:" + actor}
}

// Add creates an account. An empty password leaves password sign-in off
// (for an OIDC-only account).
func (m *Users) Add(ctx context.Context, u User, password string) error {
	u.Username, u.Email = strings.ToLower(strings.TrimSpace(u.Username)), strings.ToLower(strings.TrimSpace(u.Email))
	if u.Language == "" {
		u.Language = "zh-CN"
	}
	if err := u.Validate(); err != nil {
		return err
	}
	if _, exists, err := m.st.user(ctx, u.Username); err != nil {
		return err
	} else if exists {
		return fmt.Errorf("user %s exists already", u.Username)
	}
	if password != "" {
		h, err := HashPassword(password)
		if err != nil {
			return err
		}
		u.PasswordHash = h
	}
	now := m.now().UTC().Truncate(time.Second)
	u.Created, u.Changed, u.Version, u.Epoch = now, now, uint64(m.now().UnixNano()), 1 //nolint:gosec // positive
	if err := m.st.putUser(ctx, u); err != nil {
		return fmt.Errorf("add user: %w", err)
	}
	return m.st.audit(ctx, m.row("user_add", u, "", userJSON(u)))
}

// List returns every account.
func (m *Users) List(ctx context.Context) ([]User, error) { return m.st.users(ctx) }

// Disable turns an account off and ends its sessions.
func (m *Users) Disable(ctx context.Context, username string) error {
	return m.change(ctx, "user_disable", username, func(u *User) error {
		u.Disabled = true
		u.Epoch++
		return nil
	})
}

// Enable turns an account on again.
func (m *Users) Enable(ctx context.Context, username string) error {
	return m.change(ctx, "user_enable", username, func(u *User) error {
		u.Disabled = false
		return nil
	})
}

// ResetPassword sets a new password and ends the account's sessions.
func (m *Users) ResetPassword(ctx context.Context, username, password string) error {
	return m.change(ctx, "user_reset_password", username, func(u *User) error {
		h, err := HashPassword(password)
		if err != nil {
			return err
		}
		u.PasswordHash = h
		u.Epoch++
		return nil
	})
}

// SetOIDCSubject links an account to an identity provider's account.
func (m *Users) SetOIDCSubject(ctx context.Context, username, subject string) error {
	return m.change(ctx, "user_link_oidc", username, func(u *User) error {
		u.OIDCSubject = subject
		return nil
	})
}

func (m *Users) change(ctx context.Context, action, username string, f func(*User) error) error {
	u, ok, err := m.st.user(ctx, strings.ToLower(username))
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("no user %s", username)
	}
	before := userJSON(u)
	if err := f(&u); err != nil {
		return err
	}
	u.Changed = m.now().UTC().Truncate(time.Second)
	u.Version = max(u.Version+1, uint64(m.now().UnixNano())) //nolint:gosec // positive
	if err := m.st.putUser(ctx, u); err != nil {
		return fmt.Errorf("%s: %w", action, err)
	}
	return m.st.audit(ctx, m.row(action, u, before, userJSON(u)))
}

func (m *Users) row(action string, u User, before, after string) AuditRow {
	return AuditRow{ID: newID(), At: m.now(), Actor: m.actor, ActorRole: "cli", Action: action, ObjectKind: "user",
		ObjectID: u.Username, Region: u.Region, Before: before, After: after}
}

// userJSON is an account as the audit trail shows it: never the hash.
func userJSON(u User) string {
	return mustJSON(map[string]any{"username": u.Username, "name": u.Name, "email": u.Email, "role": u.Role, "region": u.Region,
		"language": u.Language, "disabled": u.Disabled, "password_set": u.PasswordHash != "", "oidc": u.OIDCSubject != "", "session_epoch": u.Epoch})
}
