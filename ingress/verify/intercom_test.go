package verify

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

// Intercom's docs show a signed request
// (https://developers.intercom.com/intercom-api-reference/v1.0/reference/signed-notifications)
// but not the secret it was signed with, and Intercom has no official Go
// library with a verifier. The known-answer case is therefore RFC 2202 test
// case 2 (rfcKey, rfcData, rfcSHA1 in generic_test.go) in Intercom's
// "sha1=<hex>" format, and the body shape is the documented example's.
const intercomDocBody = `{"type":"notification_event","id":"notif_78c122d0-23ba-11e4-9464-79b01267cc2e","topic":"user.created","app_id":"a86dr8yl","data":{"type":"notification_event_data","item":{"type":"user","id":"530370b477ad7120001d","user_id":"25","name":"Hoban Washburne","unsubscribed_from_emails":false,"custom_attributes":{}}},"delivery_attempts":1,"first_sent_at":1407980400}`

func TestIntercomVerify(t *testing.T) {
	const (
		secret   = "intercom-client-secret"
		previous = "intercom-previous-secret"
	)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	sig := SignIntercom([]byte(intercomDocBody), []byte(secret))

	runVerifyCases(t, NewIntercom(), []verifyCase{
		{
			name: "RFC 2202 case 2 in Intercom's sha1=<hex> format verifies",
			req:  req(rfcData, "X-Hub-Signature", "sha1="+rfcSHA1),
			keys: keys(rfcKey),
			now:  now,
		},
		{
			name:   "a signed notification verifies and its notif_ id is the delivery id",
			req:    req(intercomDocBody, "X-Hub-Signature", sig, "User-Agent", "intercom-parrot-service-client/1.0"),
			keys:   keys(secret),
			now:    now,
			wantID: "notif_78c122d0-23ba-11e4-9464-79b01267cc2e",
		},
		{
			name: "a body that is not JSON still verifies, with no delivery id",
			req:  req("ping", "X-Hub-Signature", SignIntercom([]byte("ping"), []byte(secret))),
			keys: keys(secret),
			now:  now,
		},
		{
			name:   "during rotation a notification signed with the second secret verifies",
			req:    req(intercomDocBody, "X-Hub-Signature", SignIntercom([]byte(intercomDocBody), []byte(previous))),
			keys:   keys(secret, previous),
			now:    now,
			wantID: "notif_78c122d0-23ba-11e4-9464-79b01267cc2e",
		},
		{
			name:       "a tampered body is refused",
			req:        req(strings.Replace(intercomDocBody, "Hoban", "Malcolm", 1), "X-Hub-Signature", sig),
			keys:       keys(secret),
			now:        now,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a signature made with a wrong secret is refused",
			req:        req(intercomDocBody, "X-Hub-Signature", sig),
			keys:       keys(previous),
			now:        now,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a sha256= signature is malformed, since Intercom sends SHA-1",
			req:        req(intercomDocBody, "X-Hub-Signature", "sha256="+hex.EncodeToString(mac(sha256.New, secret, intercomDocBody))),
			keys:       keys(secret),
			now:        now,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a signature without its prefix is malformed",
			req:        req(intercomDocBody, "X-Hub-Signature", strings.TrimPrefix(sig, "sha1=")),
			keys:       keys(secret),
			now:        now,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a truncated signature is malformed",
			req:        req(intercomDocBody, "X-Hub-Signature", sig[:len(sig)-1]),
			keys:       keys(secret),
			now:        now,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a signature header sent twice is malformed",
			req:        req(intercomDocBody, "X-Hub-Signature", sig, "X-Hub-Signature", sig),
			keys:       keys(secret),
			now:        now,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a missing signature header is refused as missing",
			req:        req(intercomDocBody),
			keys:       keys(secret),
			now:        now,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "only empty keys are never usable",
			req:        req(intercomDocBody, "X-Hub-Signature", SignIntercom([]byte(intercomDocBody), nil)),
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

func TestIntercomNotificationID(t *testing.T) {
	cases := map[string]string{
		intercomDocBody:             "notif_78c122d0-23ba-11e4-9464-79b01267cc2e",
		`{"id":42}`:                 "",
		`{"ID":"notif_1"}`:          "",
		`{"data":{"id":"x"}}`:       "",
		` {"id":"notif_2"}`:         "notif_2",
		`{"id":"notif_3"`:           "",
		`["notif_4"]`:               "",
		"":                          "",
		`{"id":"a","id":"notif_5"}`: "notif_5",
	}
	for body, want := range cases {
		if got := intercomNotificationID([]byte(body)); got != want {
			t.Errorf("intercomNotificationID(%q) = %q, want %q", body, got, want)
		}
	}
	if _, err := New("intercom", Options{}); err != nil {
		t.Fatal(err)
	}
}
