package console

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// idp is an OpenID Connect provider for the test: discovery, keys, an
// authorization endpoint that signs in "u-1" at once, and a token endpoint
// that returns an RS256 ID token carrying the request's nonce.
type idp struct {
	srv    *httptest.Server
	key    *rsa.PrivateKey
	mu     sync.Mutex
	nonces map[string]string // code → nonce
}

func newIDP(t *testing.T) *idp {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &idp{key: key, nonces: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		u := p.srv.URL
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": u, "authorization_endpoint": u + "/authorize", "token_endpoint": u + "/token",
			"jwks_uri": u + "/jwks", "id_token_signing_alg_values_supported": []string{"RS256"}, "response_types_supported": []string{"code"},
			"subject_types_supported": []string{"public"}})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &p.key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		code := randomHex(8)
		p.mu.Lock()
		p.nonces[code] = q.Get("nonce")
		p.mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?code="+code+"&state="+url.QueryEscape(q.Get("state")), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		p.mu.Lock()
		nonce, ok := p.nonces[r.PostForm.Get("code")]
		delete(p.nonces, r.PostForm.Get("code"))
		p.mu.Unlock()
		if !ok {
			http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
			return
		}
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: p.key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		claims, _ := json.Marshal(map[string]any{"iss": p.srv.URL, "sub": "u-1", "aud": "layoffwatch", "nonce": nonce,
			"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()})
		jws, err := signer.Sign(claims)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		idt, _ := jws.CompactSerialize()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 3600, "id_token": idt})
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

// TestOIDC signs in through an identity provider: the account linked to the
// provider's subject gets a session; a forged state or an unlinked subject
// is refused and audited.
func TestOIDC(t *testing.T) {
	h := newHarness(t)
	p := newIDP(t)
	secret := filepath.Join(t.TempDir(), "client-secret")
	if err := os.WriteFile(secret, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.opts.OIDC = OIDCOptions{Issuer: p.srv.URL, ClientID: "layoffwatch", ClientSecretFile: secret}
	h.start()

	login := func(c *client, forgeState bool) (int, string) {
		t.Helper()
		resp := c.do(mustReq(http.MethodGet, h.url+"/oidc/login"))
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("login: %d", resp.StatusCode)
		}
		resp = c.do(mustReq(http.MethodGet, resp.Header.Get("Location"))) // the provider
		_ = resp.Body.Close()
		back, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || back.Query().Get("code") == "" {
			t.Fatalf("provider answered %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		q := back.Query()
		if forgeState {
			q.Set("state", "forged")
		}
		resp = c.do(mustReq(http.MethodGet, h.url+"/oidc/callback?"+q.Encode()))
		_ = resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Location")
	}

	// not linked yet
	c := h.client()
	if code, _ := login(c, false); code != http.StatusForbidden {
		t.Errorf("an unlinked subject: %d, want 403", code)
	}
	if err := NewUsers(h.ch, "test").SetOIDCSubject(context.Background(), "lz", p.srv.URL+"|u-1"); err != nil {
		t.Fatal(err)
	}
	if code, _ := login(h.client(), true); code != http.StatusForbidden {
		t.Errorf("a forged state: %d, want 403", code)
	}
	c = h.client()
	if code, loc := login(c, false); code != http.StatusSeeOther || loc != "/inbox" {
		t.Fatalf("linked subject: %d %s", code, loc)
	}
	if code, page := c.get("/inbox"); code != 200 || !strings.Contains(page, "兰州市负责人") {
		t.Fatalf("after single sign-on: %d", code)
	}
	if n := h.count("SELECT count() FROM console_audit WHERE action = 'signin' AND detail = 'oidc' AND actor = 'lz'"); n != 1 {
		t.Errorf("%d audited single sign-ons", n)
	}
	if n := h.count("SELECT count() FROM console_audit WHERE action = 'signin_failed' AND detail LIKE 'oidc:%'"); n != 1 {
		t.Errorf("%d audited refused single sign-ons", n)
	}
}
