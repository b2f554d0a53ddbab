package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"

	"github.com/layoffwatch/layoffwatch/console"
	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/label"
)

type consoleCmd struct {
	console.Options `embed:""`
}

func (c *consoleCmd) Run(e *env) error { return console.Run(e.ctx, c.Options, e.log, e.reg) }

type usersCmd struct {
	Add           usersAddCmd      `cmd:"" help:"Create a console account (a random password is printed unless --password-stdin)."`
	List          usersListCmd     `cmd:"" help:"List console accounts."`
	Disable       usersDisableCmd  `cmd:"" help:"Disable an account and end its sessions."`
	Enable        usersEnableCmd   `cmd:"" help:"Enable a disabled account."`
	ResetPassword usersResetCmd    `cmd:"" name:"reset-password" help:"Set a new password (random unless --password-stdin) and end the account's sessions."`
	LinkOIDC      usersLinkOIDCCmd `cmd:"" name:"link-oidc" help:"Link an account to an identity provider's account for single sign-on."`
}

// whoRuns names the operator in the audit trail.
func whoRuns() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "unknown"
}

func openUsers(e *env, opts chdb.Options) (*console.Users, func(), error) {
	ch, err := openForTokens(e, opts)
	if err != nil {
		return nil, nil, err
	}
	return console.NewUsers(ch, whoRuns()), func() { _ = ch.Close() }, nil
}

// password reads one line from stdin, or makes a random password.
func password(e *env, fromStdin bool) (pw string, generated bool, err error) {
	if !fromStdin {
		return console.RandomPassword(), true, nil
	}
	line, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", false, errors.New("--password-stdin: no password on standard input")
	}
	return strings.TrimRight(line, "\r\n"), false, nil
}

type usersAddCmd struct {
	ClickHouse    chdb.Options `embed:""`
	Username      string       `arg:"" help:"Sign-in name (lower-case letters, digits, . _ -)."`
	Name          string       `help:"Display name." required:""`
	Email         string       `help:"Email address (the acknowledgements of the account carry it)." required:""`
	Role          string       `help:"read-only, official, supervisor or admin." required:"" enum:"read-only,official,supervisor,admin"`
	Region        string       `help:"Scope: a county, prefecture or province code (GB/T 2260)." required:""`
	Language      string       `help:"zh-CN or en." default:"zh-CN" enum:"zh-CN,en"`
	PasswordStdin bool         `help:"Read the password from standard input instead of generating one."`
	NoPassword    bool         `help:"No password: single sign-on only." xor:"pw"`
}

func (c *usersAddCmd) Run(e *env) error {
	m, done, err := openUsers(e, c.ClickHouse)
	if err != nil {
		return err
	}
	defer done()
	pw, generated := "", false
	if !c.NoPassword {
		if pw, generated, err = password(e, c.PasswordStdin); err != nil {
			return err
		}
	}
	u := console.User{Username: c.Username, Name: c.Name, Email: c.Email, Role: console.Role(c.Role), Region: c.Region, Language: c.Language}
	if err := m.Add(e.ctx, u, pw); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "user %s added (%s, %s)\n", strings.ToLower(c.Username), c.Role, c.Region)
	if generated {
		fmt.Fprintf(e.stdout, "password %s\n(shown only now; only an argon2id hash is stored)\n", pw)
	}
	return nil
}

type usersListCmd struct {
	ClickHouse chdb.Options `embed:""`
}

func (c *usersListCmd) Run(e *env) error {
	m, done, err := openUsers(e, c.ClickHouse)
	if err != nil {
		return err
	}
	defer done()
	list, err := m.List(e.ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "USERNAME\tNAME\tEMAIL\tROLE\tREGION\tLANGUAGE\tSIGN-IN\tDISABLED")
	for _, u := range list {
		how := []string{}
		if u.PasswordHash != "" {
			how = append(how, "password")
		}
		if u.OIDCSubject != "" {
			how = append(how, "oidc")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%v\n", u.Username, u.Name, u.Email, u.Role, u.Region, u.Language, strings.Join(how, ","), u.Disabled)
	}
	return tw.Flush()
}

type usersDisableCmd struct {
	ClickHouse chdb.Options `embed:""`
	Username   string       `arg:""`
}

func (c *usersDisableCmd) Run(e *env) error {
	m, done, err := openUsers(e, c.ClickHouse)
	if err != nil {
		return err
	}
	defer done()
	if err := m.Disable(e.ctx, c.Username); err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "user %s disabled; its sessions have ended\n", c.Username)
	return err
}

type usersEnableCmd struct {
	ClickHouse chdb.Options `embed:""`
	Username   string       `arg:""`
}

func (c *usersEnableCmd) Run(e *env) error {
	m, done, err := openUsers(e, c.ClickHouse)
	if err != nil {
		return err
	}
	defer done()
	if err := m.Enable(e.ctx, c.Username); err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "user %s enabled\n", c.Username)
	return err
}

type usersResetCmd struct {
	ClickHouse    chdb.Options `embed:""`
	Username      string       `arg:""`
	PasswordStdin bool         `help:"Read the password from standard input instead of generating one."`
}

func (c *usersResetCmd) Run(e *env) error {
	m, done, err := openUsers(e, c.ClickHouse)
	if err != nil {
		return err
	}
	defer done()
	pw, generated, err := password(e, c.PasswordStdin)
	if err != nil {
		return err
	}
	if err := m.ResetPassword(e.ctx, c.Username, pw); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "password of %s reset; its sessions have ended\n", c.Username)
	if generated {
		fmt.Fprintf(e.stdout, "password %s\n(shown only now)\n", pw)
	}
	return nil
}

type usersLinkOIDCCmd struct {
	ClickHouse chdb.Options `embed:""`
	Username   string       `arg:""`
	Subject    string       `help:"The identity provider's account: ISSUER|SUB (the issuer URL, a bar, the token's sub claim); empty unlinks." required:""`
}

func (c *usersLinkOIDCCmd) Run(e *env) error {
	m, done, err := openUsers(e, c.ClickHouse)
	if err != nil {
		return err
	}
	defer done()
	if err := m.SetOIDCSubject(e.ctx, c.Username, c.Subject); err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "user %s linked to %s\n", c.Username, c.Subject)
	return err
}

type alertsLabelsCmd struct {
	ClickHouse chdb.Options `embed:""`
	Output     string       `short:"o" help:"Write the label CSV here instead of standard output." type:"path"`
}

// Run exports the verdicts of closed cases as ground-truth labels
// (internal/label CSV) for `plan eval`.
func (c *alertsLabelsCmd) Run(e *env) error {
	ch, err := openForTokens(e, c.ClickHouse)
	if err != nil {
		return err
	}
	defer ch.Close()
	list, err := console.Labels(e.ctx, ch)
	if err != nil {
		return err
	}
	if c.Output == "" {
		return label.Write(e.stdout, list)
	}
	f, err := os.Create(c.Output) //nolint:gosec // the operator names the file
	if err != nil {
		return err
	}
	if err := label.Write(f, list); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stderr, "%d labels written to %s\n", len(list), c.Output)
	return err
}
