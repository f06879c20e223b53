package verify

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

// Shopify's own library test vector, from Shopify/shopify-app-js
// (packages/apps/shopify-api/lib/webhooks/__tests__/validate.test.ts, "returns
// true for valid request", with apiSecretKey "test_secret_key" from
// lib/__tests__/test-config.ts):
// https://github.com/Shopify/shopify-app-js/blob/main/packages/apps/shopify-api/lib/webhooks/__tests__/validate.test.ts
// Shopify has no official Go library to cross-check against; this vector is
// the reference implementation's own expectation.
const (
	shopifyLibSecret = "test_secret_key"
	shopifyLibBody   = `{"foo": "bar"}`
	shopifyLibHMAC   = "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g="
)

func TestShopifyVerify(t *testing.T) {
	const (
		secret   = "shpss_current"
		previous = "shpss_previous"
		body     = `{"id":820982911946154508,"email":"jon@example.com"}`
		eventID  = "98880550-7158-44d4-b7cd-2c97c8a091b5"
		hookID   = "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
	)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	sig := SignShopify([]byte(body), []byte(secret))

	runVerifyCases(t, NewShopify(), []verifyCase{
		{
			name:   "Shopify's library test vector verifies and X-Shopify-Webhook-Id is the delivery id",
			req:    req(shopifyLibBody, "X-Shopify-Hmac-Sha256", shopifyLibHMAC, "X-Shopify-Topic", "products/create", "X-Shopify-Webhook-Id", "123456789"),
			keys:   keys(shopifyLibSecret),
			now:    now,
			wantID: "123456789",
		},
		{
			name:   "X-Shopify-Event-Id, behind the topic, is preferred as the delivery id",
			req:    req(body, "X-Shopify-Hmac-Sha256", sig, "X-Shopify-Topic", "orders/create", "X-Shopify-Event-Id", eventID, "X-Shopify-Webhook-Id", hookID),
			keys:   keys(secret),
			now:    now,
			wantID: "orders/create:" + eventID,
		},
		{
			name:   "an event id without a topic is the delivery id on its own",
			req:    req(body, "X-Shopify-Hmac-Sha256", sig, "X-Shopify-Event-Id", eventID),
			keys:   keys(secret),
			now:    now,
			wantID: eventID,
		},
		{
			name:   "lower-case header names, as Shopify sends them over HTTP/2, are found",
			req:    req(body, "x-shopify-hmac-sha256", sig, "x-shopify-webhook-id", hookID),
			keys:   keys(secret),
			now:    now,
			wantID: hookID,
		},
		{
			name: "a signature without base64 padding verifies",
			req:  req(body, "X-Shopify-Hmac-Sha256", strings.TrimRight(sig, "=")),
			keys: keys(secret),
			now:  now,
		},
		{
			name: "during rotation a webhook signed with the second secret verifies",
			req:  req(body, "X-Shopify-Hmac-Sha256", SignShopify([]byte(body), []byte(previous))),
			keys: keys(secret, previous),
			now:  now,
		},
		{
			name:       "the library vector with one character changed is refused",
			req:        req(shopifyLibBody, "X-Shopify-Hmac-Sha256", flipAt(shopifyLibHMAC, 3)),
			keys:       keys(shopifyLibSecret),
			now:        now,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a body re-serialised without the space is refused, because the raw bytes are signed",
			req:        req(`{"foo":"bar"}`, "X-Shopify-Hmac-Sha256", shopifyLibHMAC),
			keys:       keys(shopifyLibSecret),
			now:        now,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a signature made with a wrong secret is refused",
			req:        req(body, "X-Shopify-Hmac-Sha256", SignShopify([]byte(body), []byte("wrong"))),
			keys:       keys(secret, previous),
			now:        now,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a hex signature is malformed, since Shopify sends base64",
			req:        req(rfcData, "X-Shopify-Hmac-Sha256", rfcSHA256),
			keys:       keys(rfcKey),
			now:        now,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a URL-safe base64 signature is malformed",
			req:        req(body, "X-Shopify-Hmac-Sha256", base64.URLEncoding.EncodeToString(shopifyDecodeSignature(t, sig))+"-_"),
			keys:       keys(secret),
			now:        now,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a truncated signature is malformed",
			req:        req(body, "X-Shopify-Hmac-Sha256", sig[:20]),
			keys:       keys(secret),
			now:        now,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a signature header sent twice is malformed",
			req:        req(body, "X-Shopify-Hmac-Sha256", sig, "X-Shopify-Hmac-Sha256", sig),
			keys:       keys(secret),
			now:        now,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a missing signature header is refused as missing",
			req:        req(body, "X-Shopify-Topic", "orders/create"),
			keys:       keys(secret),
			now:        now,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "only empty keys are never usable",
			req:        req(body, "X-Shopify-Hmac-Sha256", SignShopify([]byte(body), nil)),
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

// shopifyDecodeSignature decodes a standard base64 signature so a test can re-encode it.
func shopifyDecodeSignature(t *testing.T, b64 string) []byte {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestShopifyLibraryVectorMatchesSignShopify(t *testing.T) {
	if got := SignShopify([]byte(shopifyLibBody), []byte(shopifyLibSecret)); got != shopifyLibHMAC {
		t.Fatalf("SignShopify = %q, Shopify's library expects %q", got, shopifyLibHMAC)
	}
	if _, err := New("shopify", Options{}); err != nil {
		t.Fatal(err)
	}
}
