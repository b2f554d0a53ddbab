// Package clientip finds the address of the client behind an HTTP request:
// the peer's, or — when the peer is a reverse proxy or load balancer the
// operator trusts — the address that proxy reports in X-Forwarded-For.
// Rate limits and failed-sign-in counts are kept per client address, so
// behind a proxy that nobody trusts every client would share one bucket
// (one bad client locks out the others), and trusting the header from
// anyone would let a client pick its own address (and a fresh bucket) with
// each request.
package clientip

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Resolver knows which peers are trusted proxies. The zero value trusts
// none: the peer's address is the client's.
type Resolver struct {
	trusted []netip.Prefix
}

// Parse reads a comma-separated list of addresses and CIDR prefixes of
// trusted proxies ("10.0.0.0/8, 192.168.1.5"); an empty list trusts none.
func Parse(list string) (Resolver, error) {
	var r Resolver
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		var p netip.Prefix
		var err error
		if strings.Contains(s, "/") {
			p, err = netip.ParsePrefix(s)
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(s); err == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil {
			return Resolver{}, fmt.Errorf("trusted proxy %q: not an address or CIDR prefix (e.g. 10.0.0.0/8 or 192.168.1.5)", s)
		}
		p = p.Masked()
		if p.Bits() == 0 {
			return Resolver{}, fmt.Errorf("trusted proxy %q: trusting every address lets any client choose the address it is counted under; name your proxies", s)
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		r.trusted = append(r.trusted, p)
	}
	return r, nil
}

// String lists the trusted prefixes ("none" when there are none).
func (r Resolver) String() string {
	if len(r.trusted) == 0 {
		return "none"
	}
	s := make([]string, len(r.trusted))
	for i, p := range r.trusted {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

func (r Resolver) trusts(a netip.Addr) bool {
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Addr is the client's address for req. The peer's, unless the peer is a
// trusted proxy: then X-Forwarded-For is read from the right (each proxy
// appends the address it received the request from), skipping trusted
// proxies, and the first address that is not one is the client. A value
// that is not an address stops the walk at the proxy that reported it, so
// a client cannot forge its way past: it is counted under that proxy.
func (r Resolver) Addr(req *http.Request) string {
	peer, err := peerAddr(req.RemoteAddr)
	if err != nil {
		return req.RemoteAddr
	}
	if !r.trusts(peer) {
		return peer.String()
	}
	hops := forwarded(req.Header.Values("X-Forwarded-For"))
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := hopAddr(hops[i])
		if err != nil {
			return client.String()
		}
		client = a
		if !r.trusts(a) {
			break
		}
	}
	return client.String()
}

func peerAddr(remote string) (netip.Addr, error) {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, err
	}
	return a.Unmap(), nil
}

// forwarded splits the X-Forwarded-For headers into hops, first to last.
func forwarded(values []string) []string {
	var hops []string
	for _, v := range values {
		for _, h := range strings.Split(v, ",") {
			hops = append(hops, strings.TrimSpace(h))
		}
	}
	return hops
}

// hopAddr reads one X-Forwarded-For entry: an address, or an address with
// a port as some proxies write it (1.2.3.4:5678, [2001:db8::1]:5678).
func hopAddr(s string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, errors.New("empty")
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.Addr{}, err
	}
	return ap.Addr().Unmap(), nil
}
