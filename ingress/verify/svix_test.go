package verify

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	svix "github.com/svix/svix-webhooks/go"
)

// The Svix Go library's published vector (svix-webhooks go/webhook_test.go
// TestWebhookSign) is the one the Standard Webhooks libraries inherited:
// swVector* in standardwebhooks_test.go.
// https://github.com/svix/svix-webhooks/blob/main/go/webhook_test.go

// svixReq builds a request with Svix's header names.
func svixReq(body, id, ts, sig string) *Request {
	return req(body, "svix-id", id, "svix-timestamp", ts, "svix-signature", sig)
}

func newSvix(t *testing.T, o Options) Verifier {
	t.Helper()
	v, err := New("svix", o)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSvixVerify(t *testing.T) {
	vecTS := unix(swVectorTimestamp)
	vecTSs := strconv.Itoa(swVectorTimestamp)
	current := StandardWebhooksSecret([]byte("svix-current-key-0123456789"))
	previous := StandardWebhooksSecret([]byte("svix-previous-key-0123456789"))
	const body = `{"type":"user.created","data":{"id":"u_1"}}`
	const id = "msg_svix_1"
	sent := unix(1700000000)
	ts := strconv.FormatInt(sent.Unix(), 10)
	sig := SignStandardWebhooks(id, sent, []byte(body), current)

	runVerifyCases(t, newSvix(t, Options{}), []verifyCase{
		{
			name:   "the Svix library's published vector verifies under svix-* headers",
			req:    svixReq(swVectorPayload, swVectorID, vecTSs, swVectorSignature),
			keys:   keys(swVectorSecret),
			now:    vecTS,
			wantID: swVectorID,
			wantTS: vecTS,
		},
		{
			name:   "the published vector verifies with the secret's whsec_ prefix left off",
			req:    svixReq(swVectorPayload, swVectorID, vecTSs, swVectorSignature),
			keys:   keys(swVectorSecret[len("whsec_"):]),
			now:    vecTS,
			wantID: swVectorID,
			wantTS: vecTS,
		},
		{
			name:   "webhook-* headers are accepted too, as Svix's own library does",
			req:    swReq(swVectorPayload, swVectorID, vecTSs, swVectorSignature),
			keys:   keys(swVectorSecret),
			now:    vecTS,
			wantID: swVectorID,
			wantTS: vecTS,
		},
		{
			name:   "a request signed with the previous secret verifies while both are configured",
			req:    svixReq(body, id, ts, SignStandardWebhooks(id, sent, []byte(body), previous)),
			keys:   [][]byte{current, previous},
			now:    sent,
			wantID: id,
			wantTS: sent,
		},
		{
			name:       "a tampered body is refused",
			req:        svixReq(body+"\n", id, ts, sig),
			keys:       [][]byte{current},
			now:        sent,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a wrong secret is refused",
			req:        svixReq(body, id, ts, sig),
			keys:       [][]byte{previous},
			now:        sent,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a stale timestamp is refused",
			req:        svixReq(body, id, ts, sig),
			keys:       [][]byte{current},
			now:        sent.Add(6 * time.Minute),
			wantReason: ReasonTimestampOutOfRange,
		},
		{
			name:       "a future timestamp is refused",
			req:        svixReq(body, id, ts, sig),
			keys:       [][]byte{current},
			now:        sent.Add(-6 * time.Minute),
			wantReason: ReasonTimestampOutOfRange,
		},
		{
			name:       "a missing svix-signature is refused as missing",
			req:        req(body, "svix-id", id, "svix-timestamp", ts),
			keys:       [][]byte{current},
			now:        sent,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "a malformed svix-signature is refused as malformed",
			req:        svixReq(body, id, ts, "v1,***"),
			keys:       [][]byte{current},
			now:        sent,
			wantReason: ReasonMalformedSignature,
		},
	})
}

func TestSvixWithPublicKeysUsesV1a(t *testing.T) {
	k := testEd25519Key("svix v1a")
	sent := unix(1700000000)
	const body, id = `{"a":1}`, "msg_v1a"
	sig := SignStandardWebhooksAsymmetric(id, sent, []byte(body), k)
	r := svixReq(body, id, strconv.FormatInt(sent.Unix(), 10), sig)
	res, err := newSvix(t, Options{PublicKeys: [][]byte{whpk(k)}}).Verify(r, keys(swVectorSecret), sent)
	if err != nil || res.DeliveryID != id {
		t.Fatalf("result %+v, err %v", res, err)
	}
}

// TestSvixAgreesWithOfficialLibrary holds the svix provider to Svix's own Go
// library (github.com/svix/svix-webhooks/go) in both directions. The library
// checks timestamps against the real clock, so deliveries are stamped now.
func TestSvixAgreesWithOfficialLibrary(t *testing.T) {
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	secret := "whsec_" + base64.StdEncoding.EncodeToString(raw)
	wh, err := svix.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	v := newSvix(t, Options{})

	t.Run("the published vector is reproduced by the Svix library and by this package", func(t *testing.T) {
		vwh, err := svix.NewWebhook(swVectorSecret)
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := vwh.Sign(swVectorID, unix(swVectorTimestamp), []byte(swVectorPayload))
		if err != nil {
			t.Fatal(err)
		}
		ours := SignStandardWebhooks(swVectorID, unix(swVectorTimestamp), []byte(swVectorPayload), []byte(swVectorSecret))
		if theirs != swVectorSignature || ours != swVectorSignature {
			t.Fatalf("Svix signs %q, we sign %q, published %q", theirs, ours, swVectorSignature)
		}
	})

	bodies := [][]byte{[]byte(`{"type":"invoice.paid"}`), {}, []byte("\x00\xff binary\r\n")}
	for i, body := range bodies {
		t.Run(fmt.Sprintf("a %d-byte body signed by the Svix library verifies here", len(body)), func(t *testing.T) {
			id := fmt.Sprintf("msg_svix_cross_%d", i)
			sig, err := wh.Sign(id, now, body)
			if err != nil {
				t.Fatal(err)
			}
			h := http.Header{}
			h.Set(SvixIDHeader, id)
			h.Set(SvixTimestampHeader, strconv.FormatInt(now.Unix(), 10))
			h.Set(SvixSignatureHeader, sig)
			if _, err := v.Verify(&Request{Header: h, Body: body}, keys(secret), now); err != nil {
				t.Fatalf("Svix's signature refused here: %v", err)
			}
			if err := wh.Verify(body, h); err != nil {
				t.Fatalf("Svix refused its own signature: %v", err)
			}
		})
		t.Run(fmt.Sprintf("a %d-byte body signed here verifies with the Svix library", len(body)), func(t *testing.T) {
			id := fmt.Sprintf("msg_svix_back_%d", i)
			h := http.Header{}
			h.Set(SvixIDHeader, id)
			h.Set(SvixTimestampHeader, strconv.FormatInt(now.Unix(), 10))
			h.Set(SvixSignatureHeader, SignStandardWebhooks(id, now, body, []byte(secret)))
			if err := wh.Verify(body, h); err != nil {
				t.Fatalf("Svix refused our signature: %v", err)
			}
		})
	}

	t.Run("a tampered delivery is refused by both", func(t *testing.T) {
		body := []byte(`{"amount":100}`)
		sig, err := wh.Sign("msg_tamper", now, body)
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		h.Set(SvixIDHeader, "msg_tamper")
		h.Set(SvixTimestampHeader, strconv.FormatInt(now.Unix(), 10))
		h.Set(SvixSignatureHeader, sig)
		tampered := []byte(`{"amount":900}`)
		if _, err := v.Verify(&Request{Header: h, Body: tampered}, keys(secret), now); ReasonOf(err) != ReasonSignatureMismatch {
			t.Fatalf("here: %v", err)
		}
		if err := wh.Verify(tampered, h); err == nil {
			t.Fatal("Svix accepted a tampered body")
		}
	})
}
