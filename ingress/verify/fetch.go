package verify

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Fetcher gets an issuer's keys (a JWK Set, an X.509 certificate) over
// https, for the verifiers whose keys are published rather than held in a
// Secret (hookv1.KeyIssuerKeys). It fetches only URLs the provider table or
// the endpoint's spec fixed, or (SNS) that passed the provider's host check;
// every fetch is bounded in time and size, and cached:
//
//   - a document is kept for its Cache-Control max-age, clamped to
//     [MinTTL, MaxTTL], DefaultTTL when it says none;
//   - a refetch (expired, or a token naming an unknown kid) happens at most
//     once per MinRefresh per URL, whatever requests arrive, so a flood of
//     tokens with random kids costs one fetch per MinRefresh;
//   - a failed refetch keeps serving the last good document for up to
//     MaxStale past its expiry;
//   - at most MaxEntries URLs are cached.
//
// The default client refuses redirects and any address that is not public
// unicast (loopback, private, link-local such as cloud metadata), so an
// endpoint's jwksURL cannot make the receiver reach into the cluster.
// Tests inject a Client that trusts their loopback TLS server.
type Fetcher struct {
	// Client does the requests; nil: DefaultFetchClient.
	Client *http.Client
	// MaxBytes bounds a document. Defaults to 256 KiB.
	MaxBytes int64
	// Timeout bounds one fetch. Defaults to 5s.
	Timeout time.Duration
	// MinRefresh is the least time between two fetches of one URL.
	// Defaults to 30s.
	MinRefresh time.Duration
	// DefaultTTL, MinTTL, MaxTTL: see above. Default 1h, 5m, 24h.
	DefaultTTL, MinTTL, MaxTTL time.Duration
	// MaxStale: see above. Defaults to 24h.
	MaxStale time.Duration
	// MaxEntries bounds the cache. Defaults to 256.
	MaxEntries int

	mu      sync.Mutex
	entries map[string]*fetchEntry
}

type fetchEntry struct {
	mu          sync.Mutex
	value       any
	expires     time.Time
	lastAttempt time.Time
	err         error
}

// DefaultFetcher is shared by every endpoint's verifier: endpoints are
// recompiled on every status update, the cache must outlive them.
var DefaultFetcher = &Fetcher{}

// DefaultFetchClient refuses redirects and non-public addresses.
var DefaultFetchClient = &http.Client{
	Transport: &http.Transport{
		Proxy: nil,
		DialContext: (&net.Dialer{
			Timeout: 5 * time.Second,
			Control: func(_, address string, _ syscall.RawConn) error {
				ap, err := netip.ParseAddrPort(address)
				if err != nil {
					return err
				}
				if !publicAddr(ap.Addr()) {
					return fmt.Errorf("refusing to fetch from non-public address %s", ap.Addr())
				}
				return nil
			},
		}).DialContext,
		TLSHandshakeTimeout:    5 * time.Second,
		ResponseHeaderTimeout:  5 * time.Second,
		MaxResponseHeaderBytes: 16 << 10,
		MaxIdleConns:           16,
		IdleConnTimeout:        90 * time.Second,
		ForceAttemptHTTP2:      true,
	},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func publicAddr(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsGlobalUnicast() && !a.IsPrivate() && !a.IsLoopback() && !a.IsLinkLocalUnicast() &&
		!netip.MustParsePrefix("100.64.0.0/10").Contains(a)
}

func (f *Fetcher) orDefault() *Fetcher {
	if f == nil {
		return DefaultFetcher
	}
	return f
}

func durOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// get returns the parsed document at u. force asks for a refetch (an
// unknown kid), which MinRefresh still bounds.
func (f *Fetcher) get(u string, now time.Time, force bool, parse func([]byte) (any, error)) (any, error) {
	e := f.entry(u)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.value != nil && now.Before(e.expires) && !force {
		return e.value, nil
	}
	if since := now.Sub(e.lastAttempt); !e.lastAttempt.IsZero() && since >= 0 && since < durOr(f.MinRefresh, 30*time.Second) {
		if e.value != nil {
			return e.value, nil
		}
		return nil, fmt.Errorf("fetching %s failed %s ago, not retried yet: %v", u, now.Sub(e.lastAttempt).Round(time.Second), e.err)
	}
	e.lastAttempt = now
	body, ttl, err := f.fetch(u)
	var v any
	if err == nil {
		v, err = parse(body)
	}
	if err != nil {
		e.err = err
		if e.value != nil && now.Before(e.expires.Add(durOr(f.MaxStale, 24*time.Hour))) {
			return e.value, nil
		}
		return nil, err
	}
	e.value, e.expires, e.err = v, now.Add(f.clampTTL(ttl)), nil
	return v, nil
}

func (f *Fetcher) clampTTL(ttl time.Duration) time.Duration {
	if ttl <= 0 {
		return durOr(f.DefaultTTL, time.Hour)
	}
	return min(max(ttl, durOr(f.MinTTL, 5*time.Minute)), durOr(f.MaxTTL, 24*time.Hour))
}

func (f *Fetcher) entry(u string) *fetchEntry {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.entries == nil {
		f.entries = map[string]*fetchEntry{}
	}
	if e, ok := f.entries[u]; ok {
		return e
	}
	limit := f.MaxEntries
	if limit <= 0 {
		limit = 256
	}
	if len(f.entries) >= limit {
		for k := range f.entries { // evict one, any
			delete(f.entries, k)
			break
		}
	}
	e := &fetchEntry{}
	f.entries[u] = e
	return e
}

// fetch GETs one https URL, bounded, and returns the body and max-age.
func (f *Fetcher) fetch(raw string) ([]byte, time.Duration, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		return nil, 0, fmt.Errorf("%q is not an https URL", truncate(raw, 128))
	}
	ctx, cancel := context.WithTimeout(context.Background(), durOr(f.Timeout, 5*time.Second))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/json, application/x-pem-file, */*")
	req.Header.Set("User-Agent", "hookgate")
	c := f.Client
	if c == nil {
		c = DefaultFetchClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("fetching %s: %w", u.Redacted(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("fetching %s: HTTP %d (redirects are not followed)", u.Redacted(), resp.StatusCode)
	}
	limit := f.MaxBytes
	if limit <= 0 {
		limit = 256 << 10
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, 0, fmt.Errorf("reading %s: %w", u.Redacted(), err)
	}
	if int64(len(body)) > limit {
		return nil, 0, fmt.Errorf("%s is larger than %d bytes", u.Redacted(), limit)
	}
	return body, maxAge(resp.Header.Get("Cache-Control")), nil
}

// maxAge reads max-age from a Cache-Control value; 0 when absent or
// no-store/no-cache.
func maxAge(cc string) time.Duration {
	for _, d := range strings.Split(cc, ",") {
		d = strings.ToLower(strings.TrimSpace(d))
		if d == "no-store" || d == "no-cache" {
			return 0
		}
		if v, ok := strings.CutPrefix(d, "max-age="); ok {
			if n, err := strconv.ParseInt(strings.Trim(v, `"`), 10, 64); err == nil && n > 0 && n < 1<<31 {
				return time.Duration(n) * time.Second
			}
		}
	}
	return 0
}
