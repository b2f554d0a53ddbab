package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

type secretsCmd struct {
	Init secretsInitCmd `cmd:"" help:"Generate the stack's secrets into a directory, once: each missing file gets random bytes (base64url); existing ones are kept. docker-compose's secrets-init service runs it into the secrets volume."`
}

type secretsInitCmd struct {
	Dir   string   `help:"Directory of the secret files (created mode 0711: readers can open a file they know, nobody can list)." required:"" type:"path" name:"secrets-dir"`
	Bytes int      `help:"Random bytes per secret (the file holds their base64url, without newline)." default:"32"`
	Files []string `arg:"" help:"NAME[:UID]: a secret file, and the user id of the one process that reads it (mode 0400; owner UID, which needs root)."`
}

var secretNameRe = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// Run creates every missing secret and makes each one readable by its
// reader only. It never prints a secret, and never replaces one: rotating
// is deleting the file (and restarting what reads it).
func (c *secretsInitCmd) Run(e *env) error {
	if c.Bytes < 16 {
		return fmt.Errorf("--bytes %d: at least 16", c.Bytes)
	}
	type spec struct {
		name string
		uid  int // -1: leave the owner
	}
	var specs []spec
	seen := map[string]bool{}
	for _, f := range c.Files {
		name, uidText, hasUID := strings.Cut(f, ":")
		s := spec{name: name, uid: -1}
		if !secretNameRe.MatchString(name) {
			return fmt.Errorf("secret %q: want lower-case letters, digits and _", name)
		}
		if seen[name] {
			return fmt.Errorf("secret %s is listed twice", name)
		}
		seen[name] = true
		if hasUID {
			uid, err := strconv.Atoi(uidText)
			if err != nil || uid < 0 {
				return fmt.Errorf("secret %s: user id %q is not a number", name, uidText)
			}
			s.uid = uid
		}
		specs = append(specs, s)
	}
	if len(specs) == 0 {
		return errors.New("no secrets named")
	}
	// 0711: readers open the file they know; nobody lists the directory
	if err := os.MkdirAll(c.Dir, 0o711); err != nil { //nolint:gosec // traversable by the readers of the secrets, not listable
		return fmt.Errorf("secrets dir: %w", err)
	}
	if err := os.Chmod(c.Dir, 0o711); err != nil { //nolint:gosec // as above
		return fmt.Errorf("secrets dir: %w", err)
	}
	for _, s := range specs {
		path := filepath.Join(c.Dir, s.name)
		created, err := c.ensure(path)
		if err != nil {
			return err
		}
		if s.uid >= 0 {
			if err := os.Chown(path, s.uid, s.uid); err != nil {
				return fmt.Errorf("secret %s: give it to user %d: %w", s.name, s.uid, err)
			}
		}
		if err := os.Chmod(path, 0o400); err != nil {
			return fmt.Errorf("secret %s: %w", s.name, err)
		}
		what := "kept"
		if created {
			what = "created"
		}
		if _, err := fmt.Fprintf(e.stdout, "%s %s\n", what, path); err != nil {
			return err
		}
	}
	return nil
}

// ensure creates path with a fresh secret unless it exists; an existing
// one must hold a usable secret.
func (c *secretsInitCmd) ensure(path string) (created bool, err error) {
	b, err := os.ReadFile(path) //nolint:gosec // under the secrets directory
	switch {
	case err == nil:
		if len(strings.TrimSpace(string(b))) < 16 {
			return false, fmt.Errorf("secret %s holds fewer than 16 characters: delete it to have a new one generated", path)
		}
		return false, nil
	case !errors.Is(err, fs.ErrNotExist):
		return false, fmt.Errorf("secret %s: %w", path, err)
	}
	raw := make([]byte, c.Bytes)
	if _, err := rand.Read(raw); err != nil {
		return false, fmt.Errorf("secret %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o400) //nolint:gosec // under the secrets directory
	if err != nil {
		return false, fmt.Errorf("secret %s: %w", path, err)
	}
	_, werr := f.WriteString(base64.RawURLEncoding.EncodeToString(raw))
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		_ = os.Remove(path)
		return false, fmt.Errorf("secret %s: %w", path, err)
	}
	return true, nil
}
