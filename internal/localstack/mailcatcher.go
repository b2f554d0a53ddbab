package localstack

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// MailCatcher is a real SMTP server on loopback (github.com/emersion/go-smtp)
// that writes every message it accepts to Dir as an .eml file a user can
// open with any mail program, for `layoffwatch local` and `make demo`. Like
// a mailbox, it keeps one copy per Message-ID.
type MailCatcher struct {
	Dir    string
	srv    *smtp.Server
	ln     net.Listener
	mu     sync.Mutex
	seen   map[string]bool
	count  int
	dups   int
	closed chan struct{}
}

// StartMailCatcher listens on addr ("127.0.0.1:0" for any port) and writes
// to dir (created if missing).
func StartMailCatcher(addr, dir string, log *slog.Logger) (*MailCatcher, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("mail catcher dir: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("mail catcher: %w", err)
	}
	c := &MailCatcher{Dir: dir, ln: ln, seen: map[string]bool{}, closed: make(chan struct{})}
	c.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &catchSession{c: c}, nil }))
	c.srv.Domain = "localhost"
	c.srv.MaxMessageBytes = 32 << 20
	c.srv.ReadTimeout, c.srv.WriteTimeout = time.Minute, time.Minute
	c.srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	go func() {
		defer close(c.closed)
		if err := c.srv.Serve(ln); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
			log.Warn("mail catcher stopped", "err", err)
		}
	}()
	log.Info("mail catcher listening", "addr", ln.Addr().String(), "dir", dir)
	return c, nil
}

// Addr is where the catcher listens.
func (c *MailCatcher) Addr() string { return c.ln.Addr().String() }

// Count returns how many distinct messages were written, and how many
// repeats of a Message-ID were not.
func (c *MailCatcher) Count() (messages, repeats int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.count, c.dups
}

// Close stops the server.
func (c *MailCatcher) Close() error {
	err := c.srv.Close()
	<-c.closed
	return err
}

func (c *MailCatcher) store(data []byte) error {
	hdr, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(data))).ReadMIMEHeader()
	if err != nil && len(hdr) == 0 {
		return fmt.Errorf("message has no header: %w", err)
	}
	id := strings.Trim(hdr.Get("Message-Id"), "<> ")
	if id == "" {
		sum := sha256.Sum256(data)
		id = hex.EncodeToString(sum[:8])
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen[id] {
		c.dups++
		return nil
	}
	c.seen[id] = true
	c.count++
	sum := sha256.Sum256([]byte(id))
	name := fmt.Sprintf("%s-%s.eml", time.Now().UTC().Format("20060102T150405"), hex.EncodeToString(sum[:6]))
	if err := os.WriteFile(filepath.Join(c.Dir, name), data, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

type catchSession struct {
	c  *MailCatcher
	to []string
}

func (s *catchSession) Reset()        { s.to = nil }
func (s *catchSession) Logout() error { return nil }
func (s *catchSession) Mail(string, *smtp.MailOptions) error {
	return nil
}
func (s *catchSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *catchSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	return s.c.store(data)
}
