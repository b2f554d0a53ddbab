// Package alerts owns getting a warning to the right official: it consumes
// the detector's alert events, routes them by region and level, groups and
// folds them into few clear emails, sends them over SMTP exactly once per
// (alert, recipient, state change), serves signed acknowledge links,
// escalates what nobody acknowledged in time, applies silences, and keeps
// the history (notifications, acks, silences) in ClickHouse.
//
//	Kafka "alerts" ──▶ batch (one detector pass) ──▶ route ──▶ silence? fold? group?
//	        ──▶ render (alerts/email) ──▶ log pending ──▶ SMTP ──▶ log sent ──▶ commit offsets
//	        old month? ──▶ log queued ──▶ pass read ──▶ one summary per recipient (summary.go)
//	escalation clock ──▶ unacknowledged past the level's deadline, month still urgent ──▶ re-send, next tier up
//
// It does not decide what is a warning (detector/) nor render email markup
// (alerts/email), and it never reads the risk plan: what the plan says about
// a level — its name, colour, action and response deadline — comes on each
// event (alertevent.LevelFacts).
package alerts

import (
	"bytes"
	"errors"
	"fmt"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/layoffwatch/layoffwatch/alerts/channel"
	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/region"
)

// Config is the alert component's YAML file: who gets what, and how mail
// goes out.
type Config struct {
	SMTP      smtpConfig    `yaml:"smtp"`
	Links     Links         `yaml:"links"`
	Ack       AckConfig     `yaml:"ack"`
	GroupWait time.Duration `yaml:"group_wait"`
	// SummaryWait holds old warnings (months past the detector's alert
	// horizon) this long after the first is queued, so that more join the
	// same summary; 0 (the default): one summary per recipient at the end
	// of each detector pass.
	SummaryWait time.Duration `yaml:"summary_wait"`
	Resolved    *bool         `yaml:"notify_resolved"`
	Templates   string        `yaml:"templates"`
	// APIToken guards the HTTP API (list, acknowledge, silence); empty: the
	// API is off (acknowledge links and the CLI still work).
	APIToken     string      `yaml:"api_token"`
	APITokenFile string      `yaml:"api_token_file"`
	Recipients   []Recipient `yaml:"recipients"`
	Routes       []Route     `yaml:"routes"`
	// Channels are the ways beside email to reach recipients: webhooks,
	// WeCom and DingTalk group robots, SMS gateways (alerts/channel). Each
	// recipient names the ones it is reached through.
	Channels []channel.Config `yaml:"channels"`
	// Response is refused: the response deadlines are the risk plan's
	// (levels: I: response: 2h), and come with each alert event. The key is
	// known only to say so.
	Response yaml.Node `yaml:"response"`

	file     string
	channels map[string]*channel.Sender // by name, built by Validate
}

// SetSMTP points delivery at host:port without TLS (a local catcher).
func (c *Config) SetSMTP(host string, port int) {
	c.SMTP.Host, c.SMTP.Port, c.SMTP.TLS, c.SMTP.InsecureNoTLS = host, port, "none", true
}

// SetAckBaseURL changes where acknowledge links point.
func (c *Config) SetAckBaseURL(u string) { c.Links.AckBaseURL = u }

// smtpConfig mirrors email.SMTPConfig in the file; see alerts/email.
type smtpConfig struct {
	Host               string        `yaml:"host"`
	Port               int           `yaml:"port"`
	Username           string        `yaml:"username"`
	Password           string        `yaml:"password"`
	PasswordFile       string        `yaml:"password_file"`
	From               string        `yaml:"from"`
	TLS                string        `yaml:"tls"`
	InsecureNoTLS      bool          `yaml:"insecure_no_tls"`
	InsecureSkipVerify bool          `yaml:"insecure_skip_verify"`
	Timeout            time.Duration `yaml:"timeout"`
}

// Links are the URLs put into emails.
type Links struct {
	AckBaseURL     string `yaml:"ack_base_url"`     // where this component's HTTP server is reachable, e.g. https://alerts.bureau.example
	GrafanaBaseURL string `yaml:"grafana_base_url"` // e.g. https://grafana.bureau.example
}

// AckConfig configures acknowledge links. With neither Secret nor
// SecretFile, the alert component generates a secret at first start into
// its data directory (--data-dir) and keeps using it.
type AckConfig struct {
	Secret     string        `yaml:"secret"`
	SecretFile string        `yaml:"secret_file"`
	Expiry     time.Duration `yaml:"expiry"` // default 7 days

	key []byte
}

// Recipient is an official.
type Recipient struct {
	Name     string `yaml:"name"`
	Email    string `yaml:"email"`
	Language string `yaml:"language"`  // zh-CN (default) or en
	Region   string `yaml:"region"`    // county, prefecture or 620000
	MinLevel string `yaml:"min_level"` // the least severe level they get: I, II, III or IV (default)
	// Optional filters: only these rules / industries.
	Rules      []string `yaml:"rules"`
	Industries []string `yaml:"industries"`
	// Channels lists how the recipient is reached: "email" (the default
	// when empty) and names from channels:. The email address stays the
	// recipient's identity — in the notification log and in acknowledge
	// links — even when "email" is not listed: a group chat reached by a
	// robot is a recipient with its group's mailbox as email.
	Channels []string `yaml:"channels"`
	Phone    string   `yaml:"phone"` // for sms channels: +86 13800000000 or 13800000000

	minLevel alertevent.Level
	// channels that routes add for the alerts they match (validateChannels)
	routeChannels []string
}

// Route adds recipients to alerts that match it, beside the default
// region-and-level routing.
type Route struct {
	Match      RouteMatch `yaml:"match"`
	Recipients []string   `yaml:"recipients"` // emails of recipients defined above
	// Channels, when given, are added for the alerts this route matches to
	// its recipients' own channels: SMS to the director for level I only,
	// while the rest reaches them by email. Group robots are recipients of
	// their own, not route channels.
	Channels []string `yaml:"channels"`
}

// RouteMatch selects alerts; empty fields match anything.
type RouteMatch struct {
	Rules      []string `yaml:"rules"`
	Industries []string `yaml:"industries"`
	Regions    []string `yaml:"regions"` // region codes or prefixes (6201 matches Lanzhou)
	MinLevel   string   `yaml:"min_level"`

	minLevel alertevent.Level // 0: any
}

// reaches reports whether one of the match's regions (codes or prefixes)
// lies in the province of code.
func (m RouteMatch) reaches(code string) bool {
	prov := region.ProvinceOf(code)[:2]
	for _, p := range m.Regions {
		if strings.HasPrefix(p, prov) || strings.HasPrefix(prov, p) {
			return true
		}
	}
	return false
}

// LoadConfig reads and checks the file; relative paths in it resolve
// against its directory.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read alerts config: %w", err)
	}
	return ParseConfig(path, data)
}

// ParseConfig checks a config read from path.
func ParseConfig(path string, data []byte) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	c.file = path
	dir := filepath.Dir(path)
	paths := []*string{&c.SMTP.PasswordFile, &c.Ack.SecretFile, &c.Templates, &c.APITokenFile}
	for i := range c.Channels {
		ch := &c.Channels[i]
		paths = append(paths, &ch.URLFile, &ch.SecretFile, &ch.AuthValueFile, &ch.CAFile)
	}
	for _, p := range paths {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &c, nil
}

// publishedSecrets are ack secrets that were committed to the repository
// (the demo's and docker-compose's example); they sign nothing.
var publishedSecrets = []string{"demo-only-ack-secret-change-me", "dev-only-ack-secret-change-me-7f3a9c1e"}

// Validate checks the configuration and fills defaults; it does no I/O
// beyond reading secret files.
func (c *Config) Validate() error {
	regions := region.China()
	if c.GroupWait == 0 {
		c.GroupWait = time.Second
	}
	if c.SummaryWait < 0 {
		return fmt.Errorf("summary_wait must not be negative, got %s", c.SummaryWait)
	}
	if c.Ack.Expiry == 0 {
		c.Ack.Expiry = 7 * 24 * time.Hour
	}
	secret := c.Ack.Secret
	if c.Ack.SecretFile != "" {
		b, err := os.ReadFile(c.Ack.SecretFile)
		if err != nil {
			return fmt.Errorf("ack: %w", err)
		}
		secret = strings.TrimSpace(string(b))
	}
	switch {
	case secret == "" && c.Ack.Secret == "" && c.Ack.SecretFile == "":
		// none configured: generated at first start into the data directory
	case len(secret) < 16:
		return errors.New("ack: secret (or secret_file) must hold at least 16 characters: it signs the acknowledge links")
	case slices.Contains(publishedSecrets, secret):
		return errors.New("ack: the secret is one published in the layoffwatch repository, so anyone could acknowledge any alert: " +
			"leave ack.secret out (one is generated into --data-dir) or put a fresh one in secret_file (openssl rand -base64 32)")
	default:
		c.Ack.key = []byte(secret)
	}
	if c.APITokenFile != "" {
		b, err := os.ReadFile(c.APITokenFile)
		if err != nil {
			return fmt.Errorf("api_token_file: %w", err)
		}
		c.APIToken = strings.TrimSpace(string(b))
	}
	if c.APIToken != "" && len(c.APIToken) < 16 {
		return errors.New("api_token must hold at least 16 characters")
	}
	if c.Response.Kind != 0 {
		return fmt.Errorf("line %d: response: the response deadlines are set by the risk plan (levels: I: response: 2h) and come with each alert; remove this key", c.Response.Line)
	}
	if len(c.Recipients) == 0 {
		return errors.New("recipients: none configured")
	}
	seen := map[string]bool{}
	var err error
	for i := range c.Recipients {
		r := &c.Recipients[i]
		addr, err := mail.ParseAddress(r.Email)
		if err != nil || addr.Address != r.Email || strings.ContainsAny(r.Email, "\r\n") {
			return fmt.Errorf("recipients[%d]: email %q is not a plain address", i, r.Email)
		}
		// one address, whatever its letters' case: the log and the
		// acknowledge links know recipients by the lower-case address
		if seen[strings.ToLower(r.Email)] {
			return fmt.Errorf("recipients[%d]: %s is listed twice (addresses are compared without case)", i, r.Email)
		}
		seen[strings.ToLower(r.Email)] = true
		if strings.ContainsAny(r.Name, "\r\n") {
			return fmt.Errorf("recipients[%d]: name must be one line", i)
		}
		switch r.Language {
		case "":
			r.Language = "zh-CN"
		case "zh-CN", "en":
		default:
			return fmt.Errorf("recipients[%d]: language %q is not zh-CN or en", i, r.Language)
		}
		if _, ok := regions.Lookup(r.Region); !ok {
			return fmt.Errorf("recipients[%d]: region %q is not a division code of mainland China", i, r.Region)
		}
		if r.MinLevel == "" {
			r.MinLevel = alertevent.LevelIV.String()
		}
		if r.minLevel, err = alertevent.ParseLevel(r.MinLevel); err != nil {
			return fmt.Errorf("recipients[%d]: min_level: %w", i, err)
		}
	}
	for i := range c.Routes {
		rt := &c.Routes[i]
		if rt.Match.MinLevel != "" {
			if rt.Match.minLevel, err = alertevent.ParseLevel(rt.Match.MinLevel); err != nil {
				return fmt.Errorf("routes[%d]: min_level: %w", i, err)
			}
		}
		if len(rt.Recipients) == 0 {
			return fmt.Errorf("routes[%d]: no recipients", i)
		}
		for _, e := range rt.Recipients {
			if !seen[strings.ToLower(e)] {
				return fmt.Errorf("routes[%d]: recipient %s is not defined under recipients", i, e)
			}
			if r := c.recipient(e); len(rt.Match.Regions) > 0 && !rt.Match.reaches(r.Region) {
				return fmt.Errorf("routes[%d]: recipient %s (region %s) is outside every region of the route (%s): a recipient receives only the alerts of its own province",
					i, e, r.Region, strings.Join(rt.Match.Regions, ", "))
			}
		}
	}
	if c.Links.AckBaseURL == "" {
		return errors.New("links: ack_base_url is required: acknowledge links point there")
	}
	return c.validateChannels()
}

// NotifyResolved reports whether resolved notices are sent (default yes).
func (c *Config) NotifyResolved() bool { return c.Resolved == nil || *c.Resolved }
