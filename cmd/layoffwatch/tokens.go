package main

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/layoffwatch/layoffwatch/gateway"
	"github.com/layoffwatch/layoffwatch/internal/chdb"
)

type tokensCmd struct {
	Create tokensCreateCmd `cmd:"" help:"Create a token for one firm (--firm) or for a bureau acting for the firms of a region (--region); the secret is shown once."`
	List   tokensListCmd   `cmd:"" help:"List tokens (ids, scopes, labels; never secrets)."`
	Revoke tokensRevokeCmd `cmd:"" help:"Revoke a token by its id; gateways refuse it within their --token-refresh."`
}

type tokensCreateCmd struct {
	ClickHouse chdb.Options `embed:""`
	Firm       string       `help:"The firm the token acts for (its unified social credit code); it must be registered." xor:"scope"`
	Region     string       `help:"A GB/T 2260 code of a county, prefecture or the province: the token acts for the registered firms there." xor:"scope"`
	Label      string       `help:"Who holds the token, for the list (e.g. the HR clerk's name)."`
}

func (c *tokensCreateCmd) Run(e *env) error {
	scope := gateway.Scope{FirmID: c.Firm, Region: c.Region}
	if err := scope.Validate(); err != nil {
		return err
	}
	ch, err := openForTokens(e, c.ClickHouse)
	if err != nil {
		return err
	}
	defer ch.Close()
	token, t, err := gateway.CreateToken(e.ctx, ch, scope, c.Label)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "id     %s\nscope  %s\ntoken  %s\n\nThe token is shown only now: only its SHA-256 hash is stored. Hand it over safely.\n", t.ID, t.Scope, token)
	return err
}

type tokensListCmd struct {
	ClickHouse chdb.Options `embed:""`
}

func (c *tokensListCmd) Run(e *env) error {
	ch, err := openForTokens(e, c.ClickHouse)
	if err != nil {
		return err
	}
	defer ch.Close()
	list, err := gateway.ListTokens(e.ctx, ch)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSCOPE\tLABEL\tCREATED\tREVOKED")
	for _, t := range list {
		revoked := "-"
		if !t.RevokedAt.IsZero() {
			revoked = t.RevokedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%q\t%s\t%s\n", t.ID, t.Scope, t.Label, t.CreatedAt.UTC().Format(time.RFC3339), revoked)
	}
	return tw.Flush()
}

type tokensRevokeCmd struct {
	ClickHouse chdb.Options `embed:""`
	ID         string       `arg:"" help:"The token's id (first column of tokens list), or the token itself."`
}

func (c *tokensRevokeCmd) Run(e *env) error {
	id := c.ID
	if t := gateway.TokenID(id); t != "" {
		id = t
	}
	if id == "" {
		return errors.New("give a token id")
	}
	ch, err := openForTokens(e, c.ClickHouse)
	if err != nil {
		return err
	}
	defer ch.Close()
	t, err := gateway.RevokeToken(e.ctx, ch, id)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "revoked %s (%s) at %s\n", t.ID, t.Scope, t.RevokedAt.UTC().Format(time.RFC3339))
	return err
}

func openForTokens(e *env, opts chdb.Options) (*chdb.Client, error) {
	ch, err := chdb.Open(e.ctx, opts, e.log, false)
	if err != nil {
		return nil, err
	}
	if err := ch.RequireSchema(e.ctx); err != nil {
		_ = ch.Close()
		return nil, err
	}
	return ch, nil
}
