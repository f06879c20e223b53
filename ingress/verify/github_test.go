package verify

import (
	"crypto/sha1"
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

// GitHub's published test values, from "Validating webhook deliveries":
// https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries#testing-the-webhook-payload-validation
const (
	githubDocSecret    = "It's a Secret to Everybody"
	githubDocPayload   = "Hello, World!"
	githubDocSignature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
)

func TestGitHubVerify(t *testing.T) {
	const (
		current  = "current-secret"
		previous = "previous-secret"
		body     = `{"action":"opened","number":1}`
		guid     = "72d3162e-cc78-11e3-81ab-4c9367dc0958"
	)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	sig := SignGitHub([]byte(body), []byte(current))
	sha1Sig := "sha1=" + hex.EncodeToString(mac(sha1.New, current, body))

	runVerifyCases(t, NewGitHub(GitHubOptions{}), []verifyCase{
		{
			name: "GitHub's published example verifies",
			req:  req(githubDocPayload, "X-Hub-Signature-256", githubDocSignature),
			keys: keys(githubDocSecret),
			now:  now,
		},
		{
			name: "the published example verifies whatever the clock says, since GitHub signs no timestamp",
			req:  req(githubDocPayload, "X-Hub-Signature-256", githubDocSignature),
			keys: keys(githubDocSecret),
			now:  time.Time{},
		},
		{
			name:       "the published example with one hex digit changed is refused",
			req:        req(githubDocPayload, "X-Hub-Signature-256", flipAt(githubDocSignature, 1)),
			keys:       keys(githubDocSecret),
			now:        now,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name: "an upper-case hex signature verifies",
			req:  req(githubDocPayload, "X-Hub-Signature-256", "sha256="+strings.ToUpper(strings.TrimPrefix(githubDocSignature, "sha256="))),
			keys: keys(githubDocSecret),
			now:  now,
		},
		{
			name:   "the delivery GUID alone is the delivery id when no hook id is sent",
			req:    req(body, "X-Hub-Signature-256", sig, "X-GitHub-Delivery", guid),
			keys:   keys(current),
			now:    now,
			wantID: guid,
		},
		{
			name:   "the hook id is prefixed to the delivery GUID when GitHub sends it",
			req:    req(body, "X-Hub-Signature-256", sig, "X-GitHub-Delivery", guid, "X-GitHub-Hook-ID", "292430182"),
			keys:   keys(current),
			now:    now,
			wantID: "292430182:" + guid,
		},
		{
			name: "a hook id without a delivery GUID gives no delivery id",
			req:  req(body, "X-Hub-Signature-256", sig, "X-GitHub-Hook-ID", "292430182"),
			keys: keys(current),
			now:  now,
		},
		{
			name:   "lower-case header names set by hand are still found",
			req:    req(body, "x-hub-signature-256", sig, "x-github-delivery", guid),
			keys:   keys(current),
			now:    now,
			wantID: guid,
		},
		{
			name: "a request signed with the previous key verifies while both keys are configured",
			req:  req(body, "X-Hub-Signature-256", SignGitHub([]byte(body), []byte(previous))),
			keys: keys(current, previous),
			now:  now,
		},
		{
			name: "an empty key in the list is skipped and the next key is tried",
			req:  req(body, "X-Hub-Signature-256", sig),
			keys: keys("", current),
			now:  now,
		},
		{
			name:       "a tampered body is refused",
			req:        req(body+" ", "X-Hub-Signature-256", sig),
			keys:       keys(current),
			now:        now,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a signature made with a wrong secret is refused",
			req:        req(body, "X-Hub-Signature-256", SignGitHub([]byte(body), []byte("not-the-secret"))),
			keys:       keys(current, previous),
			now:        now,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a request with no signature header is refused as missing",
			req:        req(body, "X-GitHub-Delivery", guid),
			keys:       keys(current),
			now:        now,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "an empty signature header counts as missing",
			req:        req(body, "X-Hub-Signature-256", ""),
			keys:       keys(current),
			now:        now,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "a signature without the sha256= prefix is malformed",
			req:        req(body, "X-Hub-Signature-256", strings.TrimPrefix(sig, "sha256=")),
			keys:       keys(current),
			now:        now,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a signature that is not hex is malformed",
			req:        req(body, "X-Hub-Signature-256", "sha256=zz"+sig[9:]),
			keys:       keys(current),
			now:        now,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a truncated signature is malformed rather than compared",
			req:        req(body, "X-Hub-Signature-256", sig[:len(sig)-2]),
			keys:       keys(current),
			now:        now,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a signature header sent twice is malformed",
			req:        req(body, "X-Hub-Signature-256", sig, "X-Hub-Signature-256", sig),
			keys:       keys(current),
			now:        now,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a SHA-1 signature alone is refused when SHA-1 is not allowed",
			req:        req(body, "X-Hub-Signature", sha1Sig),
			keys:       keys(current),
			now:        now,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "no key at all leaves nothing to verify with",
			req:        req(body, "X-Hub-Signature-256", sig),
			keys:       nil,
			now:        now,
			wantReason: ReasonNoUsableKey,
		},
		{
			name:       "only empty keys are never usable, since anyone can sign with an empty key",
			req:        req(body, "X-Hub-Signature-256", SignGitHub([]byte(body), nil)),
			keys:       keys("", ""),
			now:        now,
			wantReason: ReasonNoUsableKey,
		},
		{
			name:       "a nil request is refused without panicking",
			req:        nil,
			keys:       keys(current),
			now:        now,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "a request with a nil header map is refused as missing",
			req:        &Request{Body: []byte(body)},
			keys:       keys(current),
			now:        now,
			wantReason: ReasonMissingSignature,
		},
	})
}

func TestGitHubVerifyWithSHA1Allowed(t *testing.T) {
	const (
		current = "current-secret"
		body    = `{"zen":"Keep it logically awesome."}`
	)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	sha1Sig := "sha1=" + hex.EncodeToString(mac(sha1.New, current, body))
	sig256 := SignGitHub([]byte(body), []byte(current))

	runVerifyCases(t, NewGitHub(GitHubOptions{AllowSHA1: true}), []verifyCase{
		{
			name: "a SHA-1 signature verifies when allowed and the SHA-256 header is absent",
			req:  req(body, "X-Hub-Signature", sha1Sig),
			keys: keys(current),
			now:  now,
		},
		{
			name: "the SHA-256 header is preferred when both are present",
			req:  req(body, "X-Hub-Signature-256", sig256, "X-Hub-Signature", "sha1=garbage"),
			keys: keys(current),
			now:  now,
		},
		{
			name:       "a wrong SHA-256 signature is not rescued by a correct SHA-1 one",
			req:        req(body, "X-Hub-Signature-256", flipAt(sig256, 1), "X-Hub-Signature", sha1Sig),
			keys:       keys(current),
			now:        now,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a SHA-1 signature over a tampered body is refused",
			req:        req(body+"x", "X-Hub-Signature", sha1Sig),
			keys:       keys(current),
			now:        now,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a SHA-256-length digest in the SHA-1 header is malformed",
			req:        req(body, "X-Hub-Signature", "sha1="+strings.TrimPrefix(sig256, "sha256=")),
			keys:       keys(current),
			now:        now,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a request with neither header is refused as missing",
			req:        req(body),
			keys:       keys(current),
			now:        now,
			wantReason: ReasonMissingSignature,
		},
	})
}
