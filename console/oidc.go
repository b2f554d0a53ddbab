package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// OIDCOptions configure single sign-on with a bureau's identity provider
// (OpenID Connect, authorization code flow). An account signs in this way
// once linked to the provider's account: `layoffwatch users link-oidc
// USER --subject 'ISSUER|SUB'`. Roles and regions stay in the console.
type OIDCOptions struct {
	Issuer           string `help:"OpenID Connect issuer URL; empty: single sign-on off." name:"issuer"`
	ClientID         string `help:"OpenID Connect client id." name:"client-id"`
	ClientSecretFile string `help:"File holding the OpenID Connect client secret." name:"client-secret-file" type:"path"`
}

func (o OIDCOptions) validate() error {
	if o.Issuer == "" {
		return nil
	}
	if !strings.HasPrefix(o.Issuer, "https://") && !strings.HasPrefix(o.Issuer, "http://127.0.0.1") && !strings.HasPrefix(o.Issuer, "http://localhost") {
		return errors.New("console: --oidc-issuer must be an https URL")
	}
	if o.ClientID == "" || o.ClientSecretFile == "" {
		return errors.New("console: --oidc-client-id and --oidc-client-secret-file are required with --oidc-issuer")
	}
	return nil
}

type oidcProvider struct {
	issuer   string
	config   oauth2.Config
	verifier *oidc.IDTokenVerifier
}

func newOIDCProvider(ctx context.Context, o OIDCOptions, baseURL string) (*oidcProvider, error) {
	secret, err := os.ReadFile(o.ClientSecretFile)
	if err != nil {
		return nil, fmt.Errorf("oidc client secret: %w", err)
	}
	p, err := oidc.NewProvider(ctx, o.Issuer)
	if err != nil {
		return nil, fmt.Errorf("oidc discovery: %w", err)
	}
	return &oidcProvider{
		issuer: o.Issuer,
		config: oauth2.Config{ClientID: o.ClientID, ClientSecret: strings.TrimSpace(string(secret)), Endpoint: p.Endpoint(),
			RedirectURL: strings.TrimRight(baseURL, "/") + "/oidc/callback", Scopes: []string{oidc.ScopeOpenID, "email", "profile"}},
		verifier: p.Verifier(&oidc.Config{ClientID: o.ClientID}),
	}, nil
}

// oidcLogin sends the browser to the identity provider with a fresh state
// and nonce bound to this browser by the pre-session cookie.
func (c *Console) oidcLogin(w http.ResponseWriter, r *http.Request) {
	if c.oidc == nil {
		http.NotFound(w, r)
		return
	}
	pre, err := c.newPre(w, randomHex(16), randomHex(16))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, c.oidc.config.AuthCodeURL(pre.State, oidc.Nonce(pre.Nonce)), http.StatusSeeOther)
}

// oidcCallback checks the state, exchanges the code, verifies the ID token
// and its nonce, and signs in the account linked to the token's subject.
func (c *Console) oidcCallback(w http.ResponseWriter, r *http.Request) {
	if c.oidc == nil {
		http.NotFound(w, r)
		return
	}
	p := c.page(w, r, nil)
	pre, ok := c.readPre(r)
	if !ok || pre.State == "" || r.URL.Query().Get("state") != pre.State {
		c.signinPage(w, r, http.StatusForbidden, p.T["err_session"])
		return
	}
	tok, err := c.oidc.config.Exchange(r.Context(), r.URL.Query().Get("code"))
	if err != nil {
		c.log.Warn("oidc code exchange", "err", err)
		c.signinPage(w, r, http.StatusForbidden, p.T["err_oidc"])
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := c.oidc.verifier.Verify(r.Context(), raw)
	if err != nil || idt.Nonce != pre.Nonce {
		c.log.Warn("oidc id token", "err", err)
		c.signinPage(w, r, http.StatusForbidden, p.T["err_oidc"])
		return
	}
	subject := c.oidc.issuer + "|" + idt.Subject
	u, found, err := c.st.userBySubject(r.Context(), subject)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if !found || u.Disabled {
		c.recordSignin(r, u.Username, u.Region, false, "oidc: no enabled account linked to "+subject)
		c.signinPage(w, r, http.StatusForbidden, p.T["err_oidc_account"])
		return
	}
	if _, err := c.setSession(w, u); err != nil {
		c.fail(w, r, err)
		return
	}
	c.recordSignin(r, u.Username, u.Region, true, "oidc")
	http.Redirect(w, r, "/inbox", http.StatusSeeOther)
}
