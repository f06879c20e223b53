package verify

import (
	"crypto/sha1"
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

// Bitbucket publishes no test vector with a known secret (the sample header in
// its docs is a placeholder), and has no official Go library. The known-answer
// case is therefore RFC 4231 test case 2 (rfcKey, rfcData, rfcSHA256 in
// generic_test.go) written in Bitbucket's header format, which pins both the
// algorithm and the "sha256=<hex>" encoding.

func TestBitbucketVerify(t *testing.T) {
	const (
		secret   = "bb-webhook-secret"
		previous = "bb-previous-secret"
		body     = `{"push":{"changes":[]},"repository":{"full_name":"team/repo"}}`
		reqUUID  = "{6ef8c1e0-4c4e-4f1b-9d3f-2f6a5f0f1c2a}"
		hookUUID = "{1b7e2d6c-8f1e-4d3a-a9b2-0c4d5e6f7a8b}"
	)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	sig := SignBitbucket([]byte(body), []byte(secret))

	runVerifyCases(t, NewBitbucket(), []verifyCase{
		{
			name: "RFC 4231 case 2 in Bitbucket's sha256=<hex> format verifies",
			req:  req(rfcData, "X-Hub-Signature", "sha256="+rfcSHA256),
			keys: keys(rfcKey),
			now:  now,
		},
		{
			name:   "the hook UUID is prefixed to X-Request-UUID to form the delivery id",
			req:    req(body, "X-Hub-Signature", sig, "X-Request-UUID", reqUUID, "X-Hook-UUID", hookUUID, "X-Attempt-Number", "2"),
			keys:   keys(secret),
			now:    now,
			wantID: hookUUID + ":" + reqUUID,
		},
		{
			name:   "X-Request-UUID alone is the delivery id when no hook UUID is sent",
			req:    req(body, "X-Hub-Signature", sig, "X-Request-UUID", reqUUID),
			keys:   keys(secret),
			now:    now,
			wantID: reqUUID,
		},
		{
			name:   "Bitbucket Data Center's X-Request-Id is used when X-Request-UUID is absent",
			req:    req(body, "X-Hub-Signature", sig, "X-Request-Id", "a1b2c3d4-0000-4000-8000-000000000001"),
			keys:   keys(secret),
			now:    now,
			wantID: "a1b2c3d4-0000-4000-8000-000000000001",
		},
		{
			name: "an upper-case prefix and hex digits verify",
			req:  req(body, "X-Hub-Signature", strings.ToUpper(sig)),
			keys: keys(secret),
			now:  now,
		},
		{
			name: "during rotation a request signed with the second secret verifies",
			req:  req(body, "X-Hub-Signature", SignBitbucket([]byte(body), []byte(previous))),
			keys: keys(secret, previous),
			now:  now,
		},
		{
			name:       "a tampered body is refused",
			req:        req(body+"\n", "X-Hub-Signature", sig),
			keys:       keys(secret),
			now:        now,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a signature made with a wrong secret is refused",
			req:        req(body, "X-Hub-Signature", SignBitbucket([]byte(body), []byte("wrong"))),
			keys:       keys(secret, previous),
			now:        now,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a GitHub-style sha1= signature is refused as malformed, since Bitbucket sends SHA-256 here",
			req:        req(body, "X-Hub-Signature", "sha1="+hex.EncodeToString(mac(sha1.New, secret, body))),
			keys:       keys(secret),
			now:        now,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a signature without its prefix is malformed",
			req:        req(body, "X-Hub-Signature", strings.TrimPrefix(sig, "sha256=")),
			keys:       keys(secret),
			now:        now,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a truncated signature is malformed",
			req:        req(body, "X-Hub-Signature", sig[:len(sig)-2]),
			keys:       keys(secret),
			now:        now,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a signature header sent twice is malformed",
			req:        req(body, "X-Hub-Signature", sig, "X-Hub-Signature", sig),
			keys:       keys(secret),
			now:        now,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "an unsigned request (webhook without a secret) is refused as missing",
			req:        req(body, "X-Request-UUID", reqUUID),
			keys:       keys(secret),
			now:        now,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "only empty keys are never usable",
			req:        req(body, "X-Hub-Signature", SignBitbucket([]byte(body), nil)),
			keys:       keys(""),
			now:        now,
			wantReason: ReasonNoUsableKey,
		},
		{
			name:       "a nil request is refused without panicking",
			keys:       keys(secret),
			now:        now,
			wantReason: ReasonMissingSignature,
		},
	})
}

func TestBitbucketIsRegistered(t *testing.T) {
	v, err := New("bitbucket", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(req(rfcData, "X-Hub-Signature", "sha256="+rfcSHA256), keys(rfcKey), time.Time{}); err != nil {
		t.Fatal(err)
	}
}
