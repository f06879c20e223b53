package server

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// Proxies decides which forwarding headers to believe. Behind an ingress
// controller the TCP peer is the proxy; the client is the rightmost address
// in the forwarding chain that is not itself a trusted proxy. Everything to
// the left of it was written by the client and may be forged.
type Proxies struct {
	Trusted []netip.Prefix
	// UseForwarded reads the RFC 7239 Forwarded header instead of
	// X-Forwarded-For/-Proto/-Host. Only one is ever read: proxies that
	// maintain one usually pass a client's copy of the other through
	// untouched, so falling back would let a client choose its address.
	UseForwarded bool
}

// ParseCIDRs parses a list of CIDRs (or single addresses) for Proxies.
func ParseCIDRs(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, err
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func (p *Proxies) trusted(a netip.Addr) bool {
	if p == nil {
		return false
	}
	a = a.Unmap()
	for _, t := range p.Trusted {
		if t.Contains(a) {
			return true
		}
	}
	return false
}

var errBadForwarded = errors.New("unparsable forwarding header")

// Client returns the address the allowlist applies to.
func (p *Proxies) Client(r *http.Request) (netip.Addr, error) {
	peer, err := peerAddr(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, err
	}
	if !p.trusted(peer) {
		return peer, nil
	}
	chain, err := forwardedChain(r.Header, p.UseForwarded)
	if err != nil {
		return netip.Addr{}, err
	}
	client := peer
	for i := len(chain) - 1; i >= 0; i-- {
		client = chain[i]
		if !p.trusted(client) {
			return client, nil
		}
	}
	// Every hop is a trusted proxy: the leftmost one is the best we know.
	return client, nil
}

// URL returns the URL as the provider called it: the scheme and host a
// trusted proxy reports, else what this server saw.
func (p *Proxies) URL(r *http.Request) *url.URL {
	u := *r.URL
	u.Host = r.Host
	u.Scheme = "http"
	if r.TLS != nil {
		u.Scheme = "https"
	}
	peer, err := peerAddr(r.RemoteAddr)
	if err != nil || !p.trusted(peer) {
		return &u
	}
	if proto, host := forwardedProtoHost(r.Header, p.UseForwarded); proto != "" || host != "" {
		if proto == "http" || proto == "https" {
			u.Scheme = proto
		}
		if host != "" {
			u.Host = host
		}
	}
	return &u
}

func peerAddr(remote string) (netip.Addr, error) {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, errors.New("unparsable client address")
	}
	return a.Unmap(), nil
}

// forwardedChain returns the hop addresses, leftmost (original client)
// first, from Forwarded (RFC 7239) or X-Forwarded-For.
func forwardedChain(h http.Header, useForwarded bool) ([]netip.Addr, error) {
	if useForwarded {
		fw := h.Values("Forwarded")
		var out []netip.Addr
		for _, line := range fw {
			for _, elem := range splitOutsideQuotes(line, ',') {
				for _, pair := range splitOutsideQuotes(elem, ';') {
					k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
					if !ok || !strings.EqualFold(strings.TrimSpace(k), "for") {
						continue
					}
					a, err := parseNode(unquote(strings.TrimSpace(v)))
					if err != nil {
						return nil, err
					}
					out = append(out, a)
				}
			}
		}
		return out, nil
	}
	var out []netip.Addr
	for _, line := range h.Values("X-Forwarded-For") {
		for _, part := range strings.Split(line, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			a, err := parseNode(part)
			if err != nil {
				return nil, err
			}
			out = append(out, a)
		}
	}
	return out, nil
}

// parseNode reads "192.0.2.1", "192.0.2.1:443", "2001:db8::1" or
// "[2001:db8::1]:443". Obfuscated and "unknown" nodes are not addresses,
// and a chain with one cannot be evaluated.
func parseNode(s string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), nil
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), nil
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil {
			return a.Unmap(), nil
		}
	}
	return netip.Addr{}, errBadForwarded
}

func forwardedProtoHost(h http.Header, useForwarded bool) (proto, host string) {
	if useForwarded {
		fw := h.Values("Forwarded")
		if len(fw) == 0 {
			return "", ""
		}
		// The last element was written by the proxy nearest to us.
		elems := splitOutsideQuotes(fw[len(fw)-1], ',')
		for _, pair := range splitOutsideQuotes(elems[len(elems)-1], ';') {
			k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
			if !ok {
				continue
			}
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "proto":
				proto = strings.ToLower(unquote(strings.TrimSpace(v)))
			case "host":
				host = unquote(strings.TrimSpace(v))
			}
		}
		return proto, host
	}
	return strings.ToLower(lastListValue(h.Values("X-Forwarded-Proto"))), lastListValue(h.Values("X-Forwarded-Host"))
}

func lastListValue(vals []string) string {
	if len(vals) == 0 {
		return ""
	}
	parts := strings.Split(vals[len(vals)-1], ",")
	return strings.TrimSpace(parts[len(parts)-1])
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return strings.ReplaceAll(s[1:len(s)-1], `\"`, `"`)
	}
	return s
}

// splitOutsideQuotes splits on sep except inside double quotes.
func splitOutsideQuotes(s string, sep byte) []string {
	var out []string
	inQuote, start := false, 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && inQuote && i+1 < len(s):
			i++
		case s[i] == '"':
			inQuote = !inQuote
		case s[i] == sep && !inQuote:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}
