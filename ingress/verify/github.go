package verify

import (
	"crypto/sha1"
	"crypto/sha256"
	"hash"
	"time"
)

// Headers GitHub sends with every webhook delivery.
const (
	// GitHubSignature256Header carries "sha256=" and the hex HMAC-SHA256 of
	// the body.
	GitHubSignature256Header = "X-Hub-Signature-256"
	// GitHubSignatureHeader carries the legacy "sha1=" HMAC-SHA1 signature.
	GitHubSignatureHeader = "X-Hub-Signature"
	// GitHubDeliveryHeader is the delivery GUID.
	GitHubDeliveryHeader = "X-GitHub-Delivery"
	// GitHubHookIDHeader is the id of the webhook configuration that sent
	// the delivery.
	GitHubHookIDHeader = "X-GitHub-Hook-ID"
)

// GitHubOptions configures NewGitHub.
type GitHubOptions struct {
	// AllowSHA1 accepts the legacy X-Hub-Signature (HMAC-SHA1) header when,
	// and only when, X-Hub-Signature-256 is absent. Off by default: GitHub
	// has sent SHA-256 for years and SHA-1 exists only for old senders. A
	// present but bad SHA-256 header is never rescued by a SHA-1 one, or an
	// attacker could pick the weaker scheme.
	AllowSHA1 bool
}

// githubScheme is one of the two signature headers GitHub may send.
type githubScheme struct {
	header  string
	prefix  string
	newHash func() hash.Hash
	size    int
}

var (
	githubSHA256 = githubScheme{GitHubSignature256Header, "sha256=", sha256.New, sha256.Size}
	githubSHA1   = githubScheme{GitHubSignatureHeader, "sha1=", sha1.New, sha1.Size}
)

type githubVerifier struct {
	allowSHA1 bool
}

// NewGitHub returns a Verifier for GitHub webhooks. Keys are the webhook
// secrets exactly as entered in GitHub, used as raw bytes.
//
// GitHub signs only the body, not the delivery headers, so Result.DeliveryID
// is not authenticated: whoever replays a captured delivery can also change
// its id. It is still the right dedupe key against GitHub's own redeliveries.
func NewGitHub(opts GitHubOptions) Verifier {
	return &githubVerifier{allowSHA1: opts.AllowSHA1}
}

// Verify implements Verifier.
func (v *githubVerifier) Verify(req *Request, keys [][]byte, _ time.Time) (Result, error) {
	if req == nil {
		return Result{}, errNoRequest()
	}
	scheme, value, err := v.pickHeader(req)
	if err != nil {
		return Result{}, err
	}
	sig, err := parseGitHubSignature(value, scheme)
	if err != nil {
		return Result{}, err
	}
	if err := verifyBodyMAC(scheme.header, sig, keys, req.Body, scheme.newHash); err != nil {
		return Result{}, err
	}
	return Result{DeliveryID: githubDeliveryID(req)}, nil
}

// pickHeader chooses the signature header to check, falling back to SHA-1
// only when allowed and only when SHA-256 is absent.
func (v *githubVerifier) pickHeader(req *Request) (githubScheme, string, error) {
	value, ok, err := singleHeader(req.Header, GitHubSignature256Header)
	if err != nil || ok {
		return githubSHA256, value, err
	}
	_, hasSHA1, _ := singleHeader(req.Header, GitHubSignatureHeader)
	if !v.allowSHA1 {
		if hasSHA1 {
			return githubScheme{}, "", fail(ReasonMissingSignature, "%s is absent and SHA-1 signatures (%s) are not accepted", GitHubSignature256Header, GitHubSignatureHeader)
		}
		return githubScheme{}, "", fail(ReasonMissingSignature, "%s is absent", GitHubSignature256Header)
	}
	value, ok, err = singleHeader(req.Header, GitHubSignatureHeader)
	if err != nil {
		return githubScheme{}, "", err
	}
	if !ok {
		return githubScheme{}, "", fail(ReasonMissingSignature, "neither %s nor %s is present", GitHubSignature256Header, GitHubSignatureHeader)
	}
	return githubSHA1, value, nil
}

// parseGitHubSignature decodes "sha256=<hex>" (or "sha1=<hex>") into the raw
// MAC.
func parseGitHubSignature(value string, scheme githubScheme) ([]byte, error) {
	return decodeSignature(scheme.header, value, scheme.prefix, encodingHex, scheme.size)
}

// githubDeliveryID builds the dedupe key. GitHub reuses the delivery GUID on
// redelivery (which is what dedupe should catch) and sends the same GUID to
// every hook subscribed to the event (which it must not), so the hook id is
// prefixed when GitHub sends it.
func githubDeliveryID(req *Request) string {
	delivery := firstHeader(req.Header, GitHubDeliveryHeader)
	if delivery == "" {
		return ""
	}
	if hook := firstHeader(req.Header, GitHubHookIDHeader); hook != "" {
		return hook + ":" + delivery
	}
	return delivery
}
