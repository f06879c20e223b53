package server

import (
	"net/http"
	"strings"
)

// dropHeaders are never stored or forwarded: hop-by-hop headers, headers
// that describe this hop, credentials meant for the receiver, and headers
// frameworks behind the target read as instructions (method overrides,
// original-URL rewrites) or as the client's address.
var dropHeaders = map[string]bool{
	"Host": true, "Content-Length": true, "Connection": true, "Keep-Alive": true,
	"Proxy-Authenticate": true, "Proxy-Authorization": true, "Proxy-Connection": true,
	"Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"Authorization": true, "Cookie": true, "Forwarded": true, "Accept-Encoding": true,
	"X-Real-Ip": true, "X-Client-Ip": true, "True-Client-Ip": true, "Cf-Connecting-Ip": true,
	"Fastly-Client-Ip": true, "X-Cluster-Client-Ip": true, "Client-Ip": true,
	"X-Http-Method-Override": true, "X-Http-Method": true, "X-Method-Override": true,
	"X-Original-Url": true, "X-Rewrite-Url": true, "X-Original-Method": true, "X-Original-Uri": true,
	// Shared secrets sent as headers (GitLab's token): the secret itself,
	// not a signature, so it must not reach the queue or the target.
	"X-Gitlab-Token": true,
}

// dropPrefixes: whole header families a sender must not set for the
// target: ours (the dispatcher sets Hookgate-* itself), forwarding headers,
// and proxy-internal ones.
var dropPrefixes = []string{"Hookgate-", "X-Forwarded-", "X-Envoy-", "X-Amzn-"}

// forwardedHeaders returns the sender's headers worth keeping. A name with
// an underscore is dropped outright: WSGI, Rack and CGI map both "-" and
// "_" to "_", so X_Forwarded_For would reach a Python or Ruby target as
// X-Forwarded-For (nginx drops them by default for the same reason).
func forwardedHeaders(in http.Header) map[string][]string {
	out := make(map[string][]string, len(in))
	for k, vs := range in {
		if keepHeader(k) {
			out[k] = vs
		}
	}
	return out
}

func keepHeader(k string) bool {
	if strings.ContainsRune(k, '_') {
		return false
	}
	k = http.CanonicalHeaderKey(k)
	if dropHeaders[k] {
		return false
	}
	for _, p := range dropPrefixes {
		if strings.HasPrefix(k, p) {
			return false
		}
	}
	return true
}
