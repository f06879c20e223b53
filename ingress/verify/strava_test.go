package verify

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func stravaGET(query string) *Request {
	u, _ := url.Parse("https://hooks.example.com/hook/abc?" + query)
	return &Request{Method: http.MethodGet, URL: u, Header: http.Header{}}
}

// Strava's callback validation is answered {"hub.challenge": "<c>"} as JSON
// only for the endpoint's verify token; events are accepted unsigned when
// they look like Strava events, and deduplicated by their body.
func TestStrava(t *testing.T) {
	v, err := New("strava", Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_750_000_000, 0)
	keys := [][]byte{[]byte("STRAVA-verify-token\n")}

	// The example of Strava's docs: hub.challenge=15f7d1a91c1f40.
	res, err := v.Verify(stravaGET("hub.verify_token=STRAVA-verify-token&hub.challenge=15f7d1a91c1f40&hub.mode=subscribe"), keys, now)
	if err != nil || res.Handshake == nil {
		t.Fatalf("validation GET with the token refused: %v", err)
	}
	if got := string(res.Handshake.Body); got != `{"hub.challenge":"15f7d1a91c1f40"}` || res.Handshake.ContentType != "application/json" || res.Handshake.Status != http.StatusOK {
		t.Errorf("answer %d %s %s", res.Handshake.Status, res.Handshake.ContentType, got)
	}
	for name, q := range map[string]string{
		"another verify token": "hub.verify_token=guess&hub.challenge=1&hub.mode=subscribe",
		"no verify token":      "hub.challenge=1&hub.mode=subscribe",
		"another mode":         "hub.verify_token=STRAVA-verify-token&hub.challenge=1&hub.mode=unsubscribe",
		"markup as challenge":  "hub.verify_token=STRAVA-verify-token&hub.challenge=%3Cscript%3E&hub.mode=subscribe",
		"the token twice":      "hub.verify_token=STRAVA-verify-token&hub.verify_token=x&hub.challenge=1&hub.mode=subscribe",
		"no challenge":         "hub.verify_token=STRAVA-verify-token&hub.mode=subscribe",
		"an empty query":       "",
	} {
		if res, err := v.Verify(stravaGET(q), keys, now); err == nil {
			t.Errorf("%s: answered %+v", name, res.Handshake)
		}
	}
	if _, err := v.Verify(stravaGET("hub.verify_token=x&hub.challenge=1&hub.mode=subscribe"), nil, now); ReasonOf(err) != ReasonNoUsableKey {
		t.Errorf("without a configured token: %v", err)
	}

	// An event from Strava's docs.
	event := `{"aspect_type":"update","event_time":1516126040,"object_id":1360128428,"object_type":"activity","owner_id":134815,"subscription_id":120475,"updates":{"title":"Messy"}}`
	post := func(body string) (Result, error) {
		return v.Verify(&Request{Method: http.MethodPost, Header: http.Header{}, Body: []byte(body)}, keys, now)
	}
	res, err = post(event)
	if err != nil || res.Handshake != nil || len(res.DeliveryID) != 64 {
		t.Fatalf("event: %+v %v", res, err)
	}
	again, _ := post(event)
	if again.DeliveryID != res.DeliveryID {
		t.Error("a retry of the same event has another dedupe key")
	}
	for name, body := range map[string]string{
		"not JSON":            "hello",
		"another object type": strings.Replace(event, `"activity"`, `"club"`, 1),
		"another aspect":      strings.Replace(event, `"update"`, `"patch"`, 1),
		"no subscription id":  strings.Replace(event, `"subscription_id":120475,`, "", 1),
	} {
		if _, err := post(body); ReasonOf(err) != ReasonMalformedSignature {
			t.Errorf("%s: %v", name, err)
		}
	}
}
