package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/layoffwatch/layoffwatch/gateway"
	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

// TestTokensCommands: create (shown once), list (never the secret), revoke.
func TestTokensCommands(t *testing.T) {
	ch := testenv.ClickHouse(t)
	firm := testenv.FirmID("620102", 1)
	if err := firms.NewStore(ch).Upsert(context.Background(), []firms.Firm{{ID: firm, Name: "甲", Region: "620102", Industry: "C", BaselineHeadcount: 10}}); err != nil {
		t.Fatal(err)
	}
	db := []string{"--clickhouse-addr", testenv.ClickHouseAddr(t), "--clickhouse-database", ch.Database()}
	cmd := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(append(args, db...), nil, &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	tokenRe := regexp.MustCompile(`(?m)^token  (lw_\S+)$`)
	code, out, errOut := cmd("tokens", "create", "--firm", firm, "--label", "HR clerk")
	m := tokenRe.FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("create: exit %d, out %q, err %q", code, out, errOut)
	}
	secret := m[1]
	if code, out, errOut = cmd("tokens", "create", "--region", "620100", "--label", "Lanzhou bureau"); code != 0 {
		t.Fatalf("create region: exit %d %q %q", code, out, errOut)
	}
	for _, bad := range [][]string{
		{"--firm", testenv.FirmID("620102", 2)}, // not registered
		{"--firm", firm, "--region", "620100"},  // both
		{"--region", "999999"},                  // not a code of the table
		{},                                      // neither
	} {
		if code, _, _ := cmd(append([]string{"tokens", "create"}, bad...)...); code == 0 {
			t.Errorf("create %v succeeded", bad)
		}
	}
	code, out, _ = cmd("tokens", "list")
	if code != 0 || strings.Contains(out, secret) || strings.Contains(out, secret[len(gateway.TokenPrefix)+gateway.IDLen:]) ||
		!strings.Contains(out, gateway.TokenID(secret)) || !strings.Contains(out, "region 620100") {
		t.Fatalf("list: exit %d\n%s", code, out)
	}
	if code, out, errOut = cmd("tokens", "revoke", secret); code != 0 || !strings.Contains(out, "revoked "+gateway.TokenID(secret)) {
		t.Fatalf("revoke: exit %d %q %q", code, out, errOut)
	}
	list, err := gateway.ListTokens(context.Background(), ch)
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range list {
		if revoked := !tk.RevokedAt.IsZero(); revoked != (tk.ID == gateway.TokenID(secret)) {
			t.Errorf("token %s (%s): revoked %v", tk.ID, tk.Scope, revoked)
		}
	}
	if code, _, _ := cmd("tokens", "revoke", "nosuchid0000"); code == 0 {
		t.Error("revoking an unknown id succeeded")
	}
}
