package verify

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"strings"
	"time"
)

// Headers GitLab sends with webhook deliveries
// (https://docs.gitlab.com/user/project/integrations/webhooks/#delivery-headers).
const (
	// GitLabTokenHeader carries the webhook's secret token in plain text.
	GitLabTokenHeader = "X-Gitlab-Token"
	// GitLabIdempotencyKeyHeader is the same on every retry of one delivery
	// (GitLab 17.4 and later), which is what dedupe needs.
	GitLabIdempotencyKeyHeader = "Idempotency-Key"
	// GitLabEventUUIDHeader identifies the triggering event. It is not used
	// for dedupe: GitLab documents that webhooks triggered by earlier
	// webhooks share it, so two distinct deliveries can carry one value.
	GitLabEventUUIDHeader = "X-Gitlab-Event-UUID"
)

// gitlabSigningTokenPrefix marks a GitLab signing token, which GitLab hands
// out as "whsec_" and the base64 of a 32-byte key. A key with this prefix in
// the Secret is a signing token; any other key is a secret token.
const gitlabSigningTokenPrefix = "whsec_"

type gitlabVerifier struct {
	tolerance time.Duration
}

// NewGitLab returns a Verifier for GitLab webhooks, which GitLab protects in
// one of two ways:
//
//   - A secret token, sent back verbatim in X-Gitlab-Token. It proves only
//     that the sender knows the token; it signs neither the body nor a time,
//     so a captured request can be replayed for ever.
//   - A signing token ("whsec_..."), with which GitLab signs
//     "{webhook-id}.{webhook-timestamp}.{body}" with HMAC-SHA256 in the
//     Standard Webhooks format (webhook-id, webhook-timestamp and
//     webhook-signature headers). webhook-id equals Idempotency-Key.
//
// Which one is checked is decided by the keys, never by the request: as soon
// as any key is a signing token, every request must carry a valid signature,
// because otherwise an attacker holding a captured request could strip the
// signature headers and fall back to the replayable token. Enable the signing
// token in GitLab before adding it to the Secret; GitLab then sends both.
//
// tolerance bounds webhook-timestamp in either direction; zero or negative
// means DefaultTolerance.
func NewGitLab(tolerance time.Duration) Verifier {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	return &gitlabVerifier{tolerance: tolerance}
}

// Verify implements Verifier.
func (v *gitlabVerifier) Verify(req *Request, keys [][]byte, now time.Time) (Result, error) {
	if req == nil {
		return Result{}, errNoRequest()
	}
	signing, tokens, signingConfigured := gitlabSplitKeys(keys)
	if signingConfigured {
		if len(signing) == 0 {
			return Result{}, fail(ReasonNoUsableKey, "no %s signing token in the Secret decodes as base64", gitlabSigningTokenPrefix)
		}
		return v.verifySigned(req, signing, now)
	}
	if len(tokens) == 0 {
		return Result{}, fail(ReasonNoUsableKey, "no non-empty key configured")
	}
	return verifyGitLabToken(req, tokens)
}

// verifySigned checks the Standard Webhooks signature GitLab sends when a
// signing token is set. Only the webhook-* header names count: GitLab does
// not send the svix-* ones.
func (v *gitlabVerifier) verifySigned(req *Request, signing [][]byte, now time.Time) (Result, error) {
	id, tsRaw, sigs, err := gitlabSignedHeaders(req)
	if err != nil {
		return Result{}, err
	}
	ts, ok := parseUnixSeconds(tsRaw)
	if !ok {
		return Result{}, fail(ReasonMalformedSignature, "%s is not a unix time in seconds", StandardWebhooksTimestampHeader)
	}
	write := func(h hash.Hash) { writeStandardContent(h, id, tsRaw, req.Body) }
	if !anyKeyMatches(sha256.New, signing, sigs, write) {
		return Result{}, fail(ReasonSignatureMismatch, "none of %d v1 signatures matches any of %d signing tokens", len(sigs), len(signing))
	}
	// The window is checked only after the signature, so that
	// TimestampOutOfRange always means a genuine but stale or early request.
	if err := checkWindow(ts, now, v.tolerance); err != nil {
		return Result{}, err
	}
	// webhook-id is signed and is GitLab's Idempotency-Key, so it is both
	// authentic and stable across retries.
	return Result{DeliveryID: id, Timestamp: ts}, nil
}

// gitlabSignedHeaders reads the three signature headers, each required and
// each at most once.
func gitlabSignedHeaders(req *Request) (id, timestamp string, sigs [][]byte, err error) {
	id, ok, err := singleHeader(req.Header, StandardWebhooksIDHeader)
	if err != nil {
		return "", "", nil, err
	}
	if !ok {
		return "", "", nil, fail(ReasonMissingSignature, "%s is absent and a signing token is configured", StandardWebhooksIDHeader)
	}
	timestamp, ok, err = singleHeader(req.Header, StandardWebhooksTimestampHeader)
	if err != nil {
		return "", "", nil, err
	}
	if !ok {
		return "", "", nil, fail(ReasonMissingSignature, "%s is absent and a signing token is configured", StandardWebhooksTimestampHeader)
	}
	value, ok, err := singleHeader(req.Header, StandardWebhooksSignatureHeader)
	if err != nil {
		return "", "", nil, err
	}
	if !ok {
		return "", "", nil, fail(ReasonMissingSignature, "%s is absent and a signing token is configured; unsigned requests are refused so that a captured one cannot be replayed on its secret token", StandardWebhooksSignatureHeader)
	}
	sigs, err = parseStandardSignatures(StandardWebhooksSignatureHeader, value)
	if err != nil {
		return "", "", nil, err
	}
	return id, timestamp, sigs, nil
}

// verifyGitLabToken compares X-Gitlab-Token with each secret token. The two
// are hashed first and the digests compared with hmac.Equal, so that neither
// the content nor the length of a token leaks through timing
// (subtle.ConstantTimeCompare returns early on a length mismatch).
func verifyGitLabToken(req *Request, tokens [][]byte) (Result, error) {
	presented, ok, err := singleHeader(req.Header, GitLabTokenHeader)
	if err != nil {
		return Result{}, err
	}
	if !ok {
		return Result{}, fail(ReasonMissingSignature, "%s is absent", GitLabTokenHeader)
	}
	got := sha256.Sum256([]byte(presented))
	matched := false
	for _, t := range tokens {
		want := sha256.Sum256(t)
		// No early exit, so the time taken does not tell which key matched.
		if hmac.Equal(got[:], want[:]) {
			matched = true
		}
	}
	if !matched {
		return Result{}, fail(ReasonSignatureMismatch, "%s matches none of %d secret tokens", GitLabTokenHeader, len(tokens))
	}
	// Idempotency-Key is not authenticated by the token, but it is the only
	// id GitLab keeps across retries, and a sender who knows the token can
	// forge anything anyway.
	return Result{DeliveryID: firstHeader(req.Header, GitLabIdempotencyKeyHeader)}, nil
}

// gitlabSplitKeys sorts the Secret's keys into decoded signing tokens and
// secret tokens. signingConfigured is true when any key carries the whsec_
// prefix, even one that does not decode, so that a typo in a signing token
// makes the endpoint refuse requests rather than silently accept unsigned
// ones.
//
// Secret tokens are normalised the way GitLab sends them: GitLab strips line
// breaks from the token before putting it in the header, and HTTP drops
// surrounding whitespace, so a token stored with `echo` (trailing newline)
// still matches.
func gitlabSplitKeys(keys [][]byte) (signing, tokens [][]byte, signingConfigured bool) {
	for _, k := range keys {
		s := strings.TrimSpace(string(k))
		if strings.HasPrefix(s, gitlabSigningTokenPrefix) {
			signingConfigured = true
			if key, ok := decodeStandardKey([]byte(s)); ok {
				signing = append(signing, key)
			}
			continue
		}
		s = strings.TrimSpace(strings.NewReplacer("\r\n", "", "\n", "").Replace(s))
		if s != "" {
			tokens = append(tokens, []byte(s))
		}
	}
	return signing, tokens, signingConfigured
}

func init() {
	register("gitlab", func(o Options) (Verifier, error) { return NewGitLab(o.Tolerance), nil })
}
