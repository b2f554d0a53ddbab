package gateway

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/cache"
	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/region"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// A token is "lw_" followed by 32 random bytes in unpadded base64url (43
// characters). Its first IDLen characters after the prefix are its id: not
// secret, stored in clear, shown by `tokens list`, used to find the stored
// hash. The remaining 26 bytes of randomness stay secret. Only the SHA-256
// of the whole token is stored.
const (
	TokenPrefix = "lw_"
	IDLen       = 12
	tokenLen    = len(TokenPrefix) + 43
)

// Scope says which firms a token may act for: one firm, or every firm of a
// region (a county, prefecture or province code of GB/T 2260).
type Scope struct {
	FirmID string // set for a firm's own token
	Region string // set for a bureau's token: a 6-digit code of the shipped table
}

// Validate checks that exactly one of FirmID and Region is set and well formed.
func (s Scope) Validate() error {
	switch {
	case s.FirmID != "" && s.Region != "":
		return errors.New("a token is for a firm or for a region, not both")
	case s.FirmID != "":
		if err := report.CheckFirmID(s.FirmID); err != nil {
			return fmt.Errorf("scope: %w", err)
		}
	case s.Region != "":
		if _, ok := region.China().Lookup(s.Region); !ok {
			return fmt.Errorf("scope: region %q is not a GB/T 2260 code of the shipped table", s.Region)
		}
	default:
		return errors.New("a token needs a scope: a firm id or a region code")
	}
	return nil
}

// prefix is the part of a county code every firm in the region shares:
// 62 for the province, 4 digits for a prefecture, the code for a county.
func (s Scope) prefix() string {
	switch region.LevelOf(s.Region) {
	case region.Province:
		return s.Region[:2]
	case region.Prefecture:
		return s.Region[:4]
	}
	return s.Region
}

// Allows reports whether a token of this scope may act for firm id; reg is
// needed for region scopes.
func (s Scope) Allows(id string, reg *firms.Registry) bool {
	if s.FirmID != "" {
		return s.FirmID == id
	}
	f, ok := reg.Lookup(id)
	return ok && strings.HasPrefix(f.Region, s.prefix())
}

// may says, for refusals, which firms a token of this scope may act for.
func (s Scope) may() string {
	if s.FirmID != "" {
		return "a firm's token acts for that firm only"
	}
	return "a bureau's token acts for the registered firms of its region only"
}

// Firms lists the registry's firms in scope, sorted by id. A firm token's
// firm is listed even before it is in the registry.
func (s Scope) Firms(reg *firms.Registry) []firms.Firm {
	if s.FirmID != "" {
		if f, ok := reg.Lookup(s.FirmID); ok {
			return []firms.Firm{f}
		}
		return []firms.Firm{{ID: s.FirmID}}
	}
	var out []firms.Firm
	for _, f := range reg.All() {
		if strings.HasPrefix(f.Region, s.prefix()) {
			out = append(out, f)
		}
	}
	return out
}

func (s Scope) kind() (kind, value string) {
	if s.FirmID != "" {
		return "firm", s.FirmID
	}
	return "region", s.Region
}

func (s Scope) String() string {
	k, v := s.kind()
	return k + " " + v
}

// Token is a stored token, without its secret.
type Token struct {
	ID        string
	Scope     Scope
	Label     string
	CreatedAt time.Time
	RevokedAt time.Time // zero while valid
	hash      []byte
}

// NewSecret returns a fresh token and its id.
func NewSecret() (token, id string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("random token: %w", err)
	}
	token = TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return token, token[len(TokenPrefix) : len(TokenPrefix)+IDLen], nil
}

// TokenID returns the id of a token, or "" when it is not shaped like one.
func TokenID(token string) string {
	if len(token) != tokenLen || !strings.HasPrefix(token, TokenPrefix) {
		return ""
	}
	for i := len(TokenPrefix); i < len(token); i++ {
		c := token[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' && c != '_' {
			return ""
		}
	}
	return token[len(TokenPrefix) : len(TokenPrefix)+IDLen]
}

func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// CreateToken stores a new token for scope and returns it: the only time the
// secret is seen. A firm scope must name a registered firm. The demo and
// tests call it directly; `layoffwatch tokens create` is a wrapper.
func CreateToken(ctx context.Context, ch *chdb.Client, scope Scope, label string) (token string, t Token, err error) {
	if err := scope.Validate(); err != nil {
		return "", Token{}, err
	}
	if scope.FirmID != "" {
		ids, err := firms.NewStore(ch).IDs(ctx)
		if err != nil {
			return "", Token{}, err
		}
		if _, ok := ids[scope.FirmID]; !ok {
			return "", Token{}, fmt.Errorf("firm %s is not in the registry: import it first (layoffwatch firms import)", scope.FirmID)
		}
	}
	token, id, err := NewSecret()
	if err != nil {
		return "", Token{}, err
	}
	t = Token{ID: id, Scope: scope, Label: label, CreatedAt: time.Now().UTC().Truncate(time.Second), hash: hashToken(token)}
	if err := insertToken(ctx, ch, t); err != nil {
		return "", Token{}, err
	}
	return token, t, nil
}

// RevokeToken marks the token with id revoked. Running gateways notice
// within their --token-refresh interval.
func RevokeToken(ctx context.Context, ch *chdb.Client, id string) (Token, error) {
	list, err := ListTokens(ctx, ch)
	if err != nil {
		return Token{}, err
	}
	for _, t := range list {
		if t.ID != id {
			continue
		}
		if !t.RevokedAt.IsZero() {
			return t, nil
		}
		t.RevokedAt = time.Now().UTC().Truncate(time.Second)
		return t, insertToken(ctx, ch, t)
	}
	return Token{}, fmt.Errorf("no token with id %q", id)
}

func insertToken(ctx context.Context, ch *chdb.Client, t Token) error {
	kind, scope := t.Scope.kind()
	var revoked *time.Time
	if !t.RevokedAt.IsZero() {
		revoked = &t.RevokedAt
	}
	if err := ch.InsertColumns(ctx, insToken, []string{t.ID}, []string{hex.EncodeToString(t.hash)}, []string{kind}, []string{scope},
		[]string{t.Label}, []time.Time{t.CreatedAt}, []*time.Time{revoked}, []uint64{uint64(time.Now().UnixNano())}); err != nil {
		return fmt.Errorf("store token: %w", err)
	}
	return nil
}

// ListTokens reads every token (revoked ones too), oldest first.
func ListTokens(ctx context.Context, ch *chdb.Client) ([]Token, error) {
	rows, err := ch.Query(ctx, qTokens)
	if err != nil {
		return nil, fmt.Errorf("query tokens: %w", err)
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		var (
			t                 Token
			hash, kind, scope string
			revoked           *time.Time
		)
		if err := rows.Scan(&t.ID, &hash, &kind, &scope, &t.Label, &t.CreatedAt, &revoked); err != nil {
			return nil, fmt.Errorf("scan token: %w", err)
		}
		if t.hash, err = hex.DecodeString(hash); err != nil {
			return nil, fmt.Errorf("token %s: stored hash: %w", t.ID, err)
		}
		if kind == "firm" {
			t.Scope.FirmID = scope
		} else {
			t.Scope.Region = scope
		}
		if revoked != nil {
			t.RevokedAt = *revoked
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read tokens: %w", err)
	}
	return out, nil
}

// authResult says why a presented token was or was not accepted; the value
// is the auth_failures metric's reason label.
type authResult string

const (
	authOK        authResult = "ok"
	authMissing   authResult = "missing"
	authMalformed authResult = "malformed"
	authUnknown   authResult = "unknown"
	authRevoked   authResult = "revoked"
)

// tokenCache holds the token table in memory, by id. It reloads every
// --token-refresh, and on an unknown id when the last load is older than
// its MinAge, so a token created a moment ago works at once and a
// revocation takes at most --token-refresh.
type tokenCache struct {
	*cache.Refreshing[map[string]Token]
}

func newTokenCache(load func(context.Context) ([]Token, error), maxAge time.Duration) *tokenCache {
	return &tokenCache{cache.New(func(ctx context.Context) (map[string]Token, error) {
		list, err := load(ctx)
		if err != nil {
			return nil, err
		}
		m := make(map[string]Token, len(list))
		for _, t := range list {
			m[t.ID] = t
		}
		return m, nil
	}, cache.Options{MaxAge: maxAge, MinAge: 250 * time.Millisecond, Name: "tokens"})}
}

func (c *tokenCache) refresh(ctx context.Context) error { return c.Load(ctx) }

// authenticate checks a presented token.
func (c *tokenCache) authenticate(ctx context.Context, token string) (Token, authResult) {
	if token == "" {
		return Token{}, authMissing
	}
	id := TokenID(token)
	if id == "" {
		return Token{}, authMalformed
	}
	byID := c.Get(ctx) // on a failed reload the old table stays
	t, ok := byID[id]
	if !ok {
		if byID, again := c.Miss(ctx, byID); again {
			t, ok = byID[id]
		}
	}
	// Hash and compare even when the id is unknown, so that the time taken
	// does not tell a known id from an unknown one.
	h := hashToken(token)
	want := t.hash
	if !ok {
		want = make([]byte, sha256.Size)
	}
	if subtle.ConstantTimeCompare(h, want) != 1 || !ok {
		return Token{}, authUnknown
	}
	if !t.RevokedAt.IsZero() {
		return Token{}, authRevoked
	}
	return t, authOK
}

// valid returns the token with id if it is known and not revoked (web
// sessions check it on every request, so a revocation ends them too).
func (c *tokenCache) valid(ctx context.Context, id string) (Token, bool) {
	t, ok := c.Get(ctx)[id]
	return t, ok && t.RevokedAt.IsZero()
}
