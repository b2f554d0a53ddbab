package clientip

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

func TestAddr(t *testing.T) {
	r, err := Parse("10.0.0.0/8, 192.168.1.5 ,2001:db8::/32")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"no proxy trusted: the peer", "203.0.113.7:5000", []string{"198.51.100.1"}, "203.0.113.7"},
		{"trusted proxy, one hop", "10.1.2.3:5000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"trusted proxy, no header: the proxy", "10.1.2.3:5000", nil, "10.1.2.3"},
		{"a forged left entry is not read", "10.1.2.3:5000", []string{"1.1.1.1, 198.51.100.1"}, "198.51.100.1"},
		{"two trusted proxies in a row", "10.1.2.3:5000", []string{"198.51.100.1, 192.168.1.5"}, "198.51.100.1"},
		{"several headers are one list", "10.1.2.3:5000", []string{"1.1.1.1", "198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"every hop trusted: the first", "10.1.2.3:5000", []string{"10.5.5.5, 192.168.1.5"}, "10.5.5.5"},
		{"garbage stops at the proxy that reported it", "10.1.2.3:5000", []string{"198.51.100.1, not-an-ip"}, "10.1.2.3"},
		{"garbage behind a second proxy", "10.1.2.3:5000", []string{"evil, 192.168.1.5"}, "192.168.1.5"},
		{"an entry with a port", "10.1.2.3:5000", []string{"198.51.100.1:4321"}, "198.51.100.1"},
		{"IPv6 client behind an IPv6 proxy", "[2001:db8::5]:443", []string{"[2001:db9::1]:99"}, "2001:db9::1"},
		{"IPv4-mapped peer", "[::ffff:10.1.2.3]:5000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"empty entry", "10.1.2.3:5000", []string{"198.51.100.1, "}, "10.1.2.3"},
		{"peer without port", "203.0.113.7", nil, "203.0.113.7"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := &http.Request{RemoteAddr: c.remote, Header: http.Header{}}
			for _, v := range c.xff {
				req.Header.Add("X-Forwarded-For", v)
			}
			if got := r.Addr(req); got != c.want {
				t.Errorf("Addr = %q, want %q", got, c.want)
			}
		})
	}
	var none Resolver
	req := &http.Request{RemoteAddr: "10.1.2.3:5000", Header: http.Header{"X-Forwarded-For": {"198.51.100.1"}}}
	if got := none.Addr(req); got != "10.1.2.3" {
		t.Errorf("trusting none: %q, want the peer", got)
	}
}

func TestParse(t *testing.T) {
	for _, bad := range []string{"0.0.0.0/0", "::/0", "10.0.0.0/33", "proxy.example.cn", "10.0.0.1/8/2"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q): no error", bad)
		}
	}
	r, err := Parse(" 10.1.2.3/8 ,, ::ffff:192.168.0.0/112 ")
	if err != nil {
		t.Fatal(err)
	}
	if got := r.String(); got != "10.0.0.0/8,192.168.0.0/16" {
		t.Errorf("String = %q", got)
	}
	if r, _ := Parse(""); r.String() != "none" {
		t.Errorf("empty list: %q", r.String())
	}
}

// FuzzAddr: whatever the headers say, the client is the peer or one of the
// addresses in X-Forwarded-For, and a peer that is not trusted is always
// the client.
func FuzzAddr(f *testing.F) {
	f.Add("10.1.2.3:5000", "198.51.100.1, 10.9.9.9")
	f.Add("203.0.113.7:1", "1.1.1.1")
	f.Add("[2001:db8::5]:443", "[2001:db9::1]:99,garbage")
	r, err := Parse("10.0.0.0/8,2001:db8::/32")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, remote, xff string) {
		req := &http.Request{RemoteAddr: remote, Header: http.Header{"X-Forwarded-For": {xff}}}
		got := r.Addr(req)
		peer, err := peerAddr(remote)
		if err != nil {
			if got != remote {
				t.Fatalf("unparsable peer %q: got %q", remote, got)
			}
			return
		}
		if !r.trusts(peer) {
			if got != peer.String() {
				t.Fatalf("untrusted peer %q: got %q", remote, got)
			}
			return
		}
		if got == peer.String() {
			return
		}
		for _, h := range strings.Split(xff, ",") {
			if a, err := hopAddr(strings.TrimSpace(h)); err == nil && a.String() == got {
				return
			}
		}
		if _, err := netip.ParseAddr(got); err != nil {
			t.Fatalf("client %q is not an address", got)
		}
		t.Fatalf("client %q is neither the peer %q nor in X-Forwarded-For %q", got, remote, xff)
	})
}
