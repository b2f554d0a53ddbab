package kafkautil_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/layoffwatch/layoffwatch/internal/kafkautil"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
	"github.com/layoffwatch/layoffwatch/internal/tlsconf/tlstest"
)

// secureBroker starts a kfake broker that requires SASL (user layoffwatch
// with password pw, by mechanism) and, with pki, TLS.
func secureBroker(t *testing.T, mechanism, pw string, pki *tlstest.PKI) []string {
	t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(2, "secure"), kfake.GroupMinSessionTimeout(time.Second),
		kfake.EnableSASL(), kfake.Superuser(mechanism, "layoffwatch", pw)}
	if pki != nil {
		opts = append(opts, kfake.TLS(pki.ServerConfig()))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// TestSASLAndTLS: with SCRAM over TLS every client layoffwatch builds —
// topic creation, the acks=all writer, the consumer group, the lag, the
// replay of a topic and the health check — works against a broker that
// requires both, the password read from a file.
func TestSASLAndTLS(t *testing.T) {
	for _, mech := range []string{kafkautil.SASLSCRAM512, kafkautil.SASLSCRAM256, kafkautil.SASLPlain} {
		t.Run(mech, func(t *testing.T) {
			dir := t.TempDir()
			pki := tlstest.New(t, dir, "kafka", false)
			addrs := secureBroker(t, mech, "s3cret-kafka-password", pki)
			pwFile := filepath.Join(dir, "kafka-password")
			if err := os.WriteFile(pwFile, []byte("s3cret-kafka-password\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			o := kafkautil.Options{Brokers: addrs, Partitions: 2, ReplicationFactor: 1, Security: kafkautil.Security{
				SASLMechanism: mech, SASLUser: "layoffwatch", SASLPasswordFile: pwFile, TLSCAFile: pki.CAFile}}
			if err := o.Validate(); err != nil {
				t.Fatal(err)
			}
			exercise(t, o)
		})
	}
}

// exercise runs every kind of client of kafkautil against o's broker.
func exercise(t *testing.T, o kafkautil.Options) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := kafkautil.Ping(ctx, o); err != nil {
		t.Fatalf("ping: %v", err)
	}
	if err := kafkautil.EnsureTopics(ctx, o, "made"); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	w := kafkautil.NewWriter(o, "made", testenv.Logger(t))
	var msgs []kafka.Message
	for i := range 10 {
		msgs = append(msgs, kafka.Message{Key: fmt.Appendf(nil, "k%d", i), Value: []byte("v")})
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("write: %v", err)
	}
	_ = w.Close()
	r := kafkautil.NewGroupReader(o, kafkautil.GroupReader{Group: "g", Topic: "made", SessionTimeout: 6 * time.Second,
		MaxWait: 100 * time.Millisecond, MaxBytes: 1 << 20}, testenv.Logger(t))
	for range 4 {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("group read: %v", err)
		}
		if err := r.CommitMessages(ctx, m); err != nil {
			t.Fatalf("commit: %v", err)
		}
	}
	_ = r.Close()
	lag, err := kafkautil.GroupLag(ctx, o, "g", "made")
	if err != nil || total(lag) != 6 {
		t.Fatalf("lag %v (%v), want 6", lag, err)
	}
	n := 0
	if err := kafkautil.ReadAll(ctx, o, "made", func(kafka.Message) error { n++; return nil }); err != nil || n != 10 {
		t.Fatalf("read all: %d messages (%v), want 10", n, err)
	}
}

// TestSASLRefused: a wrong password, a broker certificate from another CA,
// SASL against a plain client: each fails, and says why.
func TestSASLRefused(t *testing.T) {
	dir := t.TempDir()
	pki := tlstest.New(t, dir, "kafka", false)
	other := tlstest.New(t, dir, "other", false)
	addrs := secureBroker(t, kafkautil.SASLSCRAM512, "right-password", pki)
	good := kafkautil.Security{SASLMechanism: kafkautil.SASLSCRAM512, SASLUser: "layoffwatch", SASLPassword: "right-password", TLSCAFile: pki.CAFile}
	cases := []struct {
		name string
		sec  func(s *kafkautil.Security)
		want string
	}{
		{"wrong password", func(s *kafkautil.Security) { s.SASLPassword = "wrong-password" }, "refused the login"},
		{"unknown user", func(s *kafkautil.Security) { s.SASLUser = "mallory" }, "refused the login"},
		{"other CA", func(s *kafkautil.Security) { s.TLSCAFile = other.CAFile }, "certificate signed by unknown authority"},
		{"wrong server name", func(s *kafkautil.Security) { s.TLSServerName = "kafka.elsewhere.example" }, "certificate is valid for"},
		{"no TLS", func(s *kafkautil.Security) { s.TLSCAFile = "" }, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sec := good
			c.sec(&sec)
			o := kafkautil.Options{Brokers: addrs, Partitions: 1, Security: sec}
			if err := o.Validate(); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err := kafkautil.Ping(ctx, o)
			if err == nil {
				t.Fatal("ping succeeded")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not say %q", err, c.want)
			}
			t.Logf("refused: %v", err)
		})
	}
	// the good settings work, so the failures above are the changes'
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := kafkautil.Ping(ctx, kafkautil.Options{Brokers: addrs, Partitions: 1, Security: good}); err != nil {
		t.Fatal(err)
	}
}

// TestInsecureSkipVerify: the opt-out works, and says loudly that it is on.
func TestInsecureSkipVerify(t *testing.T) {
	pki := tlstest.New(t, t.TempDir(), "kafka", false)
	addrs := secureBroker(t, kafkautil.SASLSCRAM256, "pw-0123456789", pki)
	o := kafkautil.Options{Brokers: addrs, Partitions: 1, Security: kafkautil.Security{SASLMechanism: kafkautil.SASLSCRAM256,
		SASLUser: "layoffwatch", SASLPassword: "pw-0123456789", TLSInsecureSkipVerify: true}}
	var logs bytes.Buffer
	w := kafkautil.NewWriter(o, "secure", slog.New(slog.NewTextHandler(&logs, nil)))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte("k"), Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "verification is OFF") {
		t.Fatalf("no warning logged: %s", logs.String())
	}
}

// TestSecurityValidate: bad combinations fail before any connection, and a
// logged Options never shows the password.
func TestSecurityValidate(t *testing.T) {
	dir := t.TempDir()
	pki := tlstest.New(t, dir, "kafka", false)
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		sec  kafkautil.Security
		want string
	}{
		{"plain without tls", kafkautil.Security{SASLMechanism: "PLAIN", SASLUser: "u", SASLPassword: "p"}, "only with --kafka-tls"},
		{"no user", kafkautil.Security{SASLMechanism: "SCRAM-SHA-512", SASLPassword: "p"}, "--kafka-sasl-user is required"},
		{"no password", kafkautil.Security{SASLMechanism: "SCRAM-SHA-512", SASLUser: "u"}, "password is empty"},
		{"empty password file", kafkautil.Security{SASLMechanism: "SCRAM-SHA-512", SASLUser: "u", SASLPasswordFile: empty}, "password is empty"},
		{"missing password file", kafkautil.Security{SASLMechanism: "SCRAM-SHA-512", SASLUser: "u", SASLPasswordFile: filepath.Join(dir, "nope")}, "password file"},
		{"both passwords", kafkautil.Security{SASLMechanism: "SCRAM-SHA-512", SASLUser: "u", SASLPassword: "p", SASLPasswordFile: empty}, "not both"},
		{"user without mechanism", kafkautil.Security{SASLUser: "u", SASLPassword: "p"}, "mechanism is none"},
		{"unknown mechanism", kafkautil.Security{SASLMechanism: "GSSAPI", SASLUser: "u", SASLPassword: "p"}, "want none"},
		{"missing ca", kafkautil.Security{TLSCAFile: filepath.Join(dir, "nope.pem")}, "ca file"},
		{"ca not pem", kafkautil.Security{TLSCAFile: empty}, "no PEM certificate"},
		{"cert without key", kafkautil.Security{TLSCertFile: pki.ClientCert}, "needs its key"},
		{"ca and skip verify", kafkautil.Security{TLSCAFile: pki.CAFile, TLSInsecureSkipVerify: true}, "contradict"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := kafkautil.Options{Brokers: []string{"127.0.0.1:1"}, Partitions: 1, Security: c.sec}.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate = %v, want %q", err, c.want)
			}
		})
	}
	o := kafkautil.Options{Brokers: []string{"k:9093"}, Partitions: 1, Security: kafkautil.Security{SASLMechanism: "SCRAM-SHA-512",
		SASLUser: "layoffwatch", SASLPassword: "hunter2-secret", TLSCAFile: pki.CAFile}}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("starting", "kafka", o)
	if strings.Contains(logs.String(), "hunter2") || strings.Contains(o.String(), "hunter2") || strings.Contains(fmt.Sprint(o), "hunter2") {
		t.Fatalf("the password is in the log: %s", logs.String())
	}
	if !strings.Contains(logs.String(), "SCRAM-SHA-512") || !strings.Contains(logs.String(), "***") {
		t.Fatalf("log does not describe the settings: %s", logs.String())
	}
}

// TestMutualTLS: a broker that requires a client certificate takes the one
// of --kafka-tls-cert-file/--kafka-tls-key-file, and refuses a client
// without one.
func TestMutualTLS(t *testing.T) {
	pki := tlstest.New(t, t.TempDir(), "kafka", false)
	sc := pki.ServerConfig()
	sc.ClientAuth, sc.ClientCAs = tls.RequireAndVerifyClientCert, pki.Pool
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "secure"), kfake.TLS(sc))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	with := kafkautil.Options{Brokers: c.ListenAddrs(), Partitions: 1, Security: kafkautil.Security{TLSCAFile: pki.CAFile,
		TLSCertFile: pki.ClientCert, TLSKeyFile: pki.ClientKey}}
	if err := kafkautil.Ping(ctx, with); err != nil {
		t.Fatalf("with a client certificate: %v", err)
	}
	without := with
	without.TLSCertFile, without.TLSKeyFile = "", ""
	if err := kafkautil.Ping(ctx, without); err == nil {
		t.Fatal("a client without a certificate was served")
	}
}
