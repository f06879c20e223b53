package verify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"time"
)

// Headers Shopify sends with webhook deliveries
// (https://shopify.dev/docs/apps/build/webhooks).
const (
	// ShopifyHMACHeader carries the base64 HMAC-SHA256 of the raw body under
	// the app's client secret.
	ShopifyHMACHeader = "X-Shopify-Hmac-Sha256"
	// ShopifyEventIDHeader identifies the event; Shopify documents that the
	// same value on more than one webhook marks a duplicate.
	ShopifyEventIDHeader = "X-Shopify-Event-Id"
	// ShopifyWebhookIDHeader identifies the webhook delivery; older API
	// versions send it without an event id.
	ShopifyWebhookIDHeader = "X-Shopify-Webhook-Id"
	// ShopifyTopicHeader is the webhook topic, e.g. orders/create.
	ShopifyTopicHeader = "X-Shopify-Topic"
)

type shopifyVerifier struct{}

// NewShopify returns a Verifier for Shopify webhooks. Keys are the app's
// client secret (API secret key) as raw bytes; during a secret rotation both
// the new and the old secret may be listed.
//
// Shopify signs only the body: there is no replay window, and the id headers
// are not authenticated. They remain the right dedupe key against Shopify's
// own retries and duplicates.
func NewShopify() Verifier { return shopifyVerifier{} }

// Verify implements Verifier.
func (shopifyVerifier) Verify(req *Request, keys [][]byte, _ time.Time) (Result, error) {
	if req == nil {
		return Result{}, errNoRequest()
	}
	value, ok, err := singleHeader(req.Header, ShopifyHMACHeader)
	if err != nil {
		return Result{}, err
	}
	if !ok {
		return Result{}, fail(ReasonMissingSignature, "%s is absent", ShopifyHMACHeader)
	}
	sig, err := parseShopifySignature(value)
	if err != nil {
		return Result{}, err
	}
	if err := verifyBodyMAC(ShopifyHMACHeader, sig, keys, req.Body, sha256.New); err != nil {
		return Result{}, err
	}
	return Result{DeliveryID: shopifyDeliveryID(req)}, nil
}

// parseShopifySignature decodes the base64 MAC. Padding is optional; the
// decoded bytes are what is compared, so leniency admits no forgery.
func parseShopifySignature(value string) ([]byte, error) {
	return decodeSignature(ShopifyHMACHeader, value, "", encodingBase64, sha256.Size)
}

// shopifyDeliveryID follows Shopify's guidance to detect duplicates by
// X-Shopify-Event-Id. The topic is put in front so that, should one event
// ever be delivered under two topics, the two are not taken for one another;
// a true duplicate always repeats its topic. Without an event id, the
// per-delivery X-Shopify-Webhook-Id still catches Shopify's retries.
func shopifyDeliveryID(req *Request) string {
	if event := firstHeader(req.Header, ShopifyEventIDHeader); event != "" {
		if topic := firstHeader(req.Header, ShopifyTopicHeader); topic != "" {
			return topic + ":" + event
		}
		return event
	}
	return firstHeader(req.Header, ShopifyWebhookIDHeader)
}

// SignShopify returns the X-Shopify-Hmac-Sha256 value Shopify would send for
// body under key (the client secret as raw bytes).
func SignShopify(body, key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func init() {
	register("shopify", func(Options) (Verifier, error) { return NewShopify(), nil })
}
