package verify

import (
	"net/url"
)

// Providers that sign the URL they called (hookv1.ProviderInfo.SignsURL:
// Twilio, Square, Mandrill and HMAC recipes with {url}) are verified
// against the URL the provider was configured with. The receiver cannot
// see that URL, only the request: a proxy, ingress or load balancer in
// front of it may change the host, the port, the scheme or a path prefix.
// So the URL comes, in this order, from
//
//  1. Options.SignedURL (spec.signedURL), the URL as configured at the
//     provider; when set it is the only URL tried;
//  2. Options.PublicURL (status.url), the URL the controller tells people
//     to give the provider;
//  3. the URL rebuilt from the request (Request.URL: scheme and host after
//     trusted forwarding headers), which is what was verified before
//     spec.signedURL existed and stays as the fallback so that no endpoint
//     that verified stops verifying.
//
// Each configured URL is scheme, host and path only; the request's query
// is appended, since the provider signs the query it sends (Twilio adds
// bodySHA256 to the configured URL). Trying the public URL beside the
// request's is no weaker than the request's alone: both name this
// endpoint's path, and the signature still binds the body to one of them.

// signedURLs says which URLs a URL-signing verifier tries.
type signedURLs struct {
	configured *url.URL
	public     *url.URL
}

func newSignedURLs(o Options) signedURLs {
	return signedURLs{configured: o.SignedURL, public: o.PublicURL}
}

// candidates returns the URLs the provider may have signed for req, most
// likely first, without repeats; none when nothing is known.
func (s signedURLs) candidates(req *Request) []*url.URL {
	if s.configured != nil {
		return []*url.URL{withRequestQuery(s.configured, req)}
	}
	var out []*url.URL
	if s.public != nil {
		out = append(out, withRequestQuery(s.public, req))
	}
	if req.URL != nil && (len(out) == 0 || out[0].String() != req.URL.String()) {
		out = append(out, req.URL)
	}
	return out
}

// withRequestQuery returns base with the query the request arrived with.
func withRequestQuery(base *url.URL, req *Request) *url.URL {
	u := *base
	u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = "", false, "", ""
	if req.URL != nil {
		u.RawQuery, u.ForceQuery = req.URL.RawQuery, req.URL.ForceQuery
	}
	return &u
}

// ParseSignedURL parses spec.signedURL or status.url: an absolute http(s)
// URL with a host. The API's validation already refuses anything else;
// this is the receiver's own check.
func ParseSignedURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fail(ReasonNoUsableKey, "%q is not an absolute http(s) URL", s)
	}
	return u, nil
}
