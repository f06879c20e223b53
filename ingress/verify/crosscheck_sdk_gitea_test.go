package verify

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"code.gitea.io/sdk/gitea"
)

// Gitea against the Gitea project's official Go SDK, code.gitea.io/sdk/gitea
// v0.25.1 (test-only): gitea.VerifyWebhookSignature(secret, signature,
// payload) and the middleware built on it,
// gitea.VerifyWebhookSignatureMiddleware, which reads X-Gitea-Signature.
// The SDK exports no signer and publishes no vector (its tests compute the
// MAC with crypto/hmac), so the SDK checks what `hookgate send` signs, and
// both must give the same verdict on tampered requests.

const giteaSDKSecret = "s3cr3t"

const giteaSDKBody = `{"ref":"refs/heads/main","before":"28e1879d029cb852e4844d9c718537df08844e03","after":"bffeb74224043ba2feb48d137756c8a9331c449a","repository":{"id":140,"name":"webhooks","full_name":"gitea/webhooks"},"pusher":{"login":"gitea"}}`

// giteaSDKMiddleware runs r through the SDK's middleware and reports whether
// it reached the handler with the body intact.
func giteaSDKMiddleware(t *testing.T, r *Request, secret string) bool {
	t.Helper()
	var reached bool
	h := gitea.VerifyWebhookSignatureMiddleware(secret)(http.HandlerFunc(func(_ http.ResponseWriter, hr *http.Request) {
		b, _ := io.ReadAll(hr.Body)
		reached = bytes.Equal(b, r.Body)
	}))
	hr := httptest.NewRequest(http.MethodPost, "https://hooks.example.com/w/gitea", bytes.NewReader(r.Body))
	hr.Header = r.Header.Clone()
	h.ServeHTTP(httptest.NewRecorder(), hr)
	return reached
}

func giteaSignedRequest(t *testing.T, body, secret string) *Request {
	t.Helper()
	u, _ := url.Parse("https://hooks.example.com/w/gitea")
	r, err := SignRequest("gitea", Options{}, Delivery{ID: "9f2b6a1e-3c4d-4e5f-8a9b-0c1d2e3f4a5b", Event: "push", Time: time.Unix(1_700_000_000, 0), Body: []byte(body), URL: u}, []byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestGiteaSendVerifiesWithSDK(t *testing.T) {
	for _, body := range []string{giteaSDKBody, `{}`} {
		r := giteaSignedRequest(t, body, giteaSDKSecret)
		ok, err := gitea.VerifyWebhookSignature(giteaSDKSecret, r.Header.Get("X-Gitea-Signature"), r.Body)
		if err != nil || !ok {
			t.Fatalf("the SDK refuses what hookgate send signs: (%v, %v)", ok, err)
		}
		if !giteaSDKMiddleware(t, r, giteaSDKSecret) {
			t.Fatal("the SDK's middleware refuses what hookgate send signs")
		}
		res, err := mustNew(t, "gitea", Options{}).Verify(r, keys("another-secret", giteaSDKSecret), time.Time{})
		if err != nil || res.DeliveryID != "9f2b6a1e-3c4d-4e5f-8a9b-0c1d2e3f4a5b" {
			t.Fatalf("here: (%+v, %v)", res, err)
		}
	}
}

func TestGiteaTamperedRefusedByBothHereAndSDK(t *testing.T) {
	sig := giteaSignedRequest(t, giteaSDKBody, giteaSDKSecret).Header.Get("X-Gitea-Signature")
	cases := tamperCases(sig, giteaSDKBody, giteaSDKSecret,
		strings.Replace(giteaSDKBody, "refs/heads/main", "refs/heads/evil", 1), "secret", 9)
	runSDKTamperTable(t, "gitea", "X-Gitea-Signature", hdr("X-Gitea-Delivery", "d1"), cases, giteaSDKMiddleware)
}
