package verify

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PagerDuty/go-pagerduty/webhookv3"
)

// PagerDuty v3 webhooks against PagerDuty's official Go SDK,
// github.com/PagerDuty/go-pagerduty v1.8.0 (test-only):
// webhookv3.VerifySignature(*http.Request, secret). The SDK exports no
// signer; its side of "SDK signs, we verify" is the vector of its own tests
// (webhookv3/webhookv3_test.go), which TestPagerDutyVector also checks. The
// other direction signs with SignRequest, the signer `hookgate send` uses.

const (
	pagerDutySDKSecret = "lDQHScfUeXUKaQRNF+8XIiDKZ7XX3itBAYzwU0TARw8lJqRnkKl2iB1anSb0Z+IK"
	pagerDutySDKSig    = "v1=0c0b9495b893a39e70d1fea2fe11fbe0a825f88b9f67846f6cc07dd2bc5476cd"
)

// pagerDutySDKBody is the body of the SDK's vector, the same bytes as in
// TestPagerDutyVector.
const pagerDutySDKBody = `{"event":{"id":"01BWDWL3NYY7LUFPZCC28QUCMK","event_type":"incident.priority_updated","resource_type":"incident","occurred_at":"2021-04-26T17:36:27.458Z","agent":{"html_url":"https://acme.pagerduty.com/users/PLH1HKV","id":"PLH1HKV","self":"https://api.pagerduty.com/users/PLH1HKV","summary":"Tenex Engineer","type":"user_reference"},"client":null,"data":{"id":"PGR0VU2","type":"incident","self":"https://api.pagerduty.com/incidents/PGR0VU2","html_url":"https://acme.pagerduty.com/incidents/PGR0VU2","number":2,"status":"triggered","title":"A little bump in the road","service":{"html_url":"https://acme.pagerduty.com/services/PF9KMXH","id":"PF9KMXH","self":"https://api.pagerduty.com/services/PF9KMXH","summary":"API Service","type":"service_reference"},"assignees":[{"html_url":"https://acme.pagerduty.com/users/PTUXL6G","id":"PTUXL6G","self":"https://api.pagerduty.com/users/PTUXL6G","summary":"User 123","type":"user_reference"}],"escalation_policy":{"html_url":"https://acme.pagerduty.com/escalation_policies/PUS0KTE","id":"PUS0KTE","self":"https://api.pagerduty.com/escalation_policies/PUS0KTE","summary":"Default","type":"escalation_policy_reference"},"teams":[{"html_url":"https://acme.pagerduty.com/teams/PFCVPS0","id":"PFCVPS0","self":"https://api.pagerduty.com/teams/PFCVPS0","summary":"Engineering","type":"team_reference"}],"priority":{"html_url":"https://acme.pagerduty.com/account/incident_priorities","id":"PSO75BM","self":"https://api.pagerduty.com/priorities/PSO75BM","summary":"P1","type":"priority_reference"},"urgency":"high","conference_bridge":{"conference_number":1000,"conference_url":"https://example.com"},"resolve_reason":null}}}`

// pagerDutySDKVerify runs the SDK's check on a copy of r.
func pagerDutySDKVerify(r *Request, secret string) error {
	hr := httptest.NewRequest(http.MethodPost, "https://hooks.example.com/w/pagerduty", bytes.NewReader(r.Body))
	hr.Header = r.Header.Clone()
	return webhookv3.VerifySignature(hr, secret)
}

func TestPagerDutySDKVectorVerifiesHere(t *testing.T) {
	r := &Request{Method: http.MethodPost, Header: hdr("X-PagerDuty-Signature", pagerDutySDKSig), Body: []byte(pagerDutySDKBody)}
	if err := pagerDutySDKVerify(r, pagerDutySDKSecret); err != nil {
		t.Fatalf("the SDK refuses its own vector: %v", err)
	}
	res, err := mustNew(t, "pagerduty", Options{}).Verify(r, keys("another-secret", pagerDutySDKSecret), time.Time{})
	if err != nil || res.DeliveryID != "01BWDWL3NYY7LUFPZCC28QUCMK" {
		t.Fatalf("the SDK's vector: (%+v, %v)", res, err)
	}
}

func TestPagerDutySendVerifiesWithSDK(t *testing.T) {
	u, _ := url.Parse("https://hooks.example.com/w/pagerduty")
	for _, body := range []string{`{"event":{"id":"01SEND","event_type":"incident.triggered"}}`, pagerDutySDKBody} {
		r, err := SignRequest("pagerduty", Options{}, Delivery{ID: "01SEND", Event: "incident.triggered", Time: time.Unix(1_700_000_000, 0), Body: []byte(body), URL: u}, []byte(pagerDutySDKSecret))
		if err != nil {
			t.Fatal(err)
		}
		if err := pagerDutySDKVerify(r, pagerDutySDKSecret); err != nil {
			t.Fatalf("the SDK refuses what hookgate send signs (%s): %v", r.Header.Get("X-PagerDuty-Signature"), err)
		}
		// A second, unknown secret's entry in front, as during a rotation.
		r.Header.Set("X-PagerDuty-Signature", "v1=7020c8a7ec668a9b7012bc3dd82e483394b038f4230acc6785efbf2a7d8bcaf5,"+r.Header.Get("X-PagerDuty-Signature"))
		if err := pagerDutySDKVerify(r, pagerDutySDKSecret); err != nil {
			t.Fatalf("the SDK refuses a two-entry header: %v", err)
		}
		if _, err := mustNew(t, "pagerduty", Options{}).Verify(r, keys(pagerDutySDKSecret), time.Time{}); err != nil {
			t.Fatalf("here, a two-entry header: %v", err)
		}
	}
}

func TestPagerDutyTamperedRefusedByBothHereAndSDK(t *testing.T) {
	cases := append(tamperCases(pagerDutySDKSig, pagerDutySDKBody, pagerDutySDKSecret,
		strings.Replace(pagerDutySDKBody, `"urgency":"high"`, `"urgency":"low"`, 1), "another-secret", 7),
		sdkTamperCase{name: "the SDK's mismatch case is refused by both", sig: "v1=7020c8a7ec668a9b7012bc3dd82e483394b038f4230acc6785efbf2a7d8bcaf5",
			body: pagerDutySDKBody, secret: pagerDutySDKSecret, wantReason: ReasonSignatureMismatch})
	runSDKTamperTable(t, "pagerduty", "X-PagerDuty-Signature", nil, cases, func(_ *testing.T, r *Request, secret string) bool {
		return pagerDutySDKVerify(r, secret) == nil
	})
}
