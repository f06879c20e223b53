package verify

import (
	"net/url"
	"strings"
	"testing"
	"time"

	razorpayutils "github.com/razorpay/razorpay-go/utils"
)

// Razorpay against its official Go SDK, github.com/razorpay/razorpay-go
// v1.3.3 (test-only): utils.VerifyWebhookSignature(body, signature, secret)
// is the SDK's webhook check. The SDK exports no signer, so the SDK's side
// of "SDK signs, we verify" is its own published vector
// (resources/verify_payment_test.go); the other direction signs with
// SignRequest, the signer `hookgate send` uses.

const (
	razorpaySDKSecret    = "123456"
	razorpaySDKSignature = "ea962f3a2a8090aa14ef10fc178306edcb46ee7ccadae8afe2275cda26f3d2a6"
	razorpaySDKBody      = `{"entity":"event","account_id":"acc_HVFD0PFnHPAzKj","event":"payment.authorized","contains":["payment"],"payload":{"payment":{"entity":{"id":"pay_JUEM4c0pSLpFEW","entity":"payment","amount":12300,"currency":"INR","status":"authorized","order_id":"order_JUELuT6cFaHkvd","invoice_id":null,"international":false,"method":"netbanking","amount_refunded":0,"refund_status":null,"captured":false,"description":"#JUELZ1z1EC0pwi","card_id":null,"bank":"SBIN","wallet":null,"vpa":null,"email":"prathmesh.bijjargi@razorpay.com","contact":"+917411714931","notes":[],"fee":null,"tax":null,"error_code":null,"error_description":null,"error_source":null,"error_step":null,"error_reason":null,"acquirer_data":{"bank_transaction_id":"6416615"},"created_at":1652339804}}},"created_at":1652339806}`
)

func razorpayRequest(sig, body, eventID string) *Request {
	h := hdr("X-Razorpay-Event-Id", eventID)
	if sig != "" {
		h.Set("X-Razorpay-Signature", sig)
	}
	return &Request{Method: "POST", Header: h, Body: []byte(body)}
}

func TestRazorpaySDKVectorVerifiesHere(t *testing.T) {
	if !razorpayutils.VerifyWebhookSignature(razorpaySDKBody, razorpaySDKSignature, razorpaySDKSecret) {
		t.Fatal("the SDK refuses its own vector")
	}
	res, err := mustNew(t, "razorpay", Options{}).Verify(razorpayRequest(razorpaySDKSignature, razorpaySDKBody, "evt_sdk"), keys("another-secret", razorpaySDKSecret), time.Time{})
	if err != nil || res.DeliveryID != "evt_sdk" {
		t.Fatalf("the SDK's vector: (%+v, %v)", res, err)
	}
}

func TestRazorpaySendVerifiesWithSDK(t *testing.T) {
	u, _ := url.Parse("https://hooks.example.com/w/razorpay")
	for _, body := range []string{`{"event":"payment.captured","payload":{}}`, razorpaySDKBody, `{}`} {
		r, err := SignRequest("razorpay", Options{}, Delivery{ID: "evt_send", Event: "payment.captured", Time: time.Unix(1_700_000_000, 0), Body: []byte(body), URL: u}, []byte(razorpaySDKSecret))
		if err != nil {
			t.Fatal(err)
		}
		if !razorpayutils.VerifyWebhookSignature(string(r.Body), r.Header.Get("X-Razorpay-Signature"), razorpaySDKSecret) {
			t.Fatalf("the SDK refuses what hookgate send signs for %s", body)
		}
	}
}

func TestRazorpayTamperedRefusedByBothHereAndSDK(t *testing.T) {
	cases := tamperCases(razorpaySDKSignature, razorpaySDKBody, razorpaySDKSecret,
		strings.Replace(razorpaySDKBody, "12300", "92300", 1), "654321", 5)
	runSDKTamperTable(t, "razorpay", "X-Razorpay-Signature", hdr("X-Razorpay-Event-Id", "evt_1"), cases,
		func(_ *testing.T, r *Request, secret string) bool {
			return razorpayutils.VerifyWebhookSignature(string(r.Body), r.Header.Get("X-Razorpay-Signature"), secret)
		})
}
