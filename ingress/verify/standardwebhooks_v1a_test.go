package verify

import (
	"crypto/ed25519"
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The specification's example webhook-signature header carries a v1 and a
// v1a entry; the key behind the v1a one is not published, and no reference
// library implements v1a, so v1a keys come from fixed seeds and the reference
// is crypto/ed25519 over the content the specification defines
// ("{id}.{timestamp}.{body}", the same as v1, which the published v1 vector
// pins down).
// https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
const swSpecV1a = "v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg=="

func whpk(priv ed25519.PrivateKey) []byte {
	return StandardWebhooksPublicKey(priv.Public().(ed25519.PublicKey))
}

func TestStandardWebhooksAsymmetricVerify(t *testing.T) {
	current := testEd25519Key("sw current")
	previous := testEd25519Key("sw previous")
	other := testEd25519Key("sw other")
	const body = `{"type":"contact.created","timestamp":"2022-11-03T20:26:10.344522Z","data":{"id":"1f81eb52-5198-4599-803e-771906343485"}}`
	const id = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
	sent := unix(1674087231)
	ts := strconv.FormatInt(sent.Unix(), 10)
	sig := SignStandardWebhooksAsymmetric(id, sent, []byte(body), current)
	prevSig := SignStandardWebhooksAsymmetric(id, sent, []byte(body), previous)
	// An HMAC entry made with the published vector's secret, as a sender
	// offering both schemes would add.
	v1 := SignStandardWebhooks(id, sent, []byte(body), []byte(swVectorSecret))
	bareKey := strings.TrimPrefix(string(whpk(current)), "whpk_")

	runVerifyCases(t, NewStandardWebhooksAsymmetric(0), []verifyCase{
		{
			name:   "a v1a signature verifies with the sender's whpk_ public key",
			req:    swReq(body, id, ts, sig),
			keys:   [][]byte{whpk(current)},
			now:    sent,
			wantID: id,
			wantTS: sent,
		},
		{
			name:   "the public key without its whpk_ prefix and with a trailing newline verifies",
			req:    swReq(body, id, ts, sig),
			keys:   keys(bareKey + "\n"),
			now:    sent,
			wantID: id,
			wantTS: sent,
		},
		{
			name:   "Svix header names are accepted when the webhook-* headers are absent",
			req:    req(body, "svix-id", id, "svix-timestamp", ts, "svix-signature", sig),
			keys:   [][]byte{whpk(current)},
			now:    sent,
			wantID: id,
			wantTS: sent,
		},
		{
			name:   "a v1a signature is found beside a v1 one, as in the specification's example header",
			req:    swReq(body, id, ts, v1+" "+sig),
			keys:   [][]byte{whpk(current)},
			now:    sent,
			wantID: id,
			wantTS: sent,
		},
		{
			name:   "a request signed with the previous key verifies while both keys are configured",
			req:    swReq(body, id, ts, prevSig),
			keys:   [][]byte{whpk(current), whpk(previous)},
			now:    sent,
			wantID: id,
			wantTS: sent,
		},
		{
			name:   "a sender signing with both keys during rotation verifies against the new key alone",
			req:    swReq(body, id, ts, prevSig+" "+sig),
			keys:   [][]byte{whpk(current)},
			now:    sent,
			wantID: id,
			wantTS: sent,
		},
		{
			name:   "a valid v1a signature is used even beside an unparsable v1a entry",
			req:    swReq(body, id, ts, "v1a,!!! "+sig),
			keys:   [][]byte{whpk(current)},
			now:    sent,
			wantID: id,
			wantTS: sent,
		},
		{
			name:   "whsec_ and whsk_ values among the keys are skipped",
			req:    swReq(body, id, ts, sig),
			keys:   [][]byte{[]byte(swVectorSecret), []byte("whsk_" + base64.StdEncoding.EncodeToString(current.Seed())), whpk(current)},
			now:    sent,
			wantID: id,
			wantTS: sent,
		},
		{
			name:       "the specification's example v1a signature does not verify under an unrelated key",
			req:        swReq(body, id, ts, swSpecV1a),
			keys:       [][]byte{whpk(current)},
			now:        sent,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a signature by a key not listed is refused",
			req:        swReq(body, id, ts, SignStandardWebhooksAsymmetric(id, sent, []byte(body), other)),
			keys:       [][]byte{whpk(current), whpk(previous)},
			now:        sent,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a tampered body is refused",
			req:        swReq(body+" ", id, ts, sig),
			keys:       [][]byte{whpk(current)},
			now:        sent,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a changed message id is refused because the id is signed",
			req:        swReq(body, id+"x", ts, sig),
			keys:       [][]byte{whpk(current)},
			now:        sent,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a changed timestamp is refused because the timestamp is signed",
			req:        swReq(body, id, strconv.FormatInt(sent.Unix()+1, 10), sig),
			keys:       [][]byte{whpk(current)},
			now:        sent,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a v1a entry holding a valid signature is not accepted under the v1 label",
			req:        swReq(body, id, ts, "v1,"+strings.TrimPrefix(sig, "v1a,")),
			keys:       [][]byte{whpk(current)},
			now:        sent,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "a header with only a v1 signature has nothing this verifier can check",
			req:        swReq(body, id, ts, v1),
			keys:       [][]byte{whpk(current)},
			now:        sent,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "a v1a signature of the wrong length is malformed",
			req:        swReq(body, id, ts, "v1a,"+base64.StdEncoding.EncodeToString(make([]byte, 32))),
			keys:       [][]byte{whpk(current)},
			now:        sent,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a v1a signature that is not base64 is malformed",
			req:        swReq(body, id, ts, "v1a,not*base64"),
			keys:       [][]byte{whpk(current)},
			now:        sent,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a timestamp that is not an integer is malformed",
			req:        swReq(body, id, ts+"s", sig),
			keys:       [][]byte{whpk(current)},
			now:        sent,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:   "a timestamp exactly five minutes old is still inside the default window",
			req:    swReq(body, id, ts, sig),
			keys:   [][]byte{whpk(current)},
			now:    sent.Add(5 * time.Minute),
			wantID: id,
			wantTS: sent,
		},
		{
			name:       "a stale timestamp just outside the default window is refused",
			req:        swReq(body, id, ts, sig),
			keys:       [][]byte{whpk(current)},
			now:        sent.Add(5*time.Minute + time.Second),
			wantReason: ReasonTimestampOutOfRange,
		},
		{
			name:       "a future timestamp just outside the default window is refused",
			req:        swReq(body, id, ts, sig),
			keys:       [][]byte{whpk(current)},
			now:        sent.Add(-5*time.Minute - time.Second),
			wantReason: ReasonTimestampOutOfRange,
		},
		{
			name:       "a stale timestamp with a wrong signature is reported as a mismatch, not as stale",
			req:        swReq(body, id, ts, SignStandardWebhooksAsymmetric(id, sent, []byte(body), other)),
			keys:       [][]byte{whpk(current)},
			now:        sent.Add(time.Hour),
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a missing id header is refused as missing",
			req:        req(body, "webhook-timestamp", ts, "webhook-signature", sig),
			keys:       [][]byte{whpk(current)},
			now:        sent,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "a missing signature header is refused as missing",
			req:        req(body, "webhook-id", id, "webhook-timestamp", ts),
			keys:       [][]byte{whpk(current)},
			now:        sent,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "a signature header sent twice is malformed",
			req:        req(body, "webhook-id", id, "webhook-timestamp", ts, "webhook-signature", sig, "webhook-signature", sig),
			keys:       [][]byte{whpk(current)},
			now:        sent,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "only a shared secret as key is not usable for v1a",
			req:        swReq(body, id, ts, sig),
			keys:       keys(swVectorSecret),
			now:        sent,
			wantReason: ReasonNoUsableKey,
		},
		{
			name:       "a small-order point as public key is not usable, so a keyless forgery fails",
			req:        swReq(body, id, ts, "v1a,"+base64.StdEncoding.EncodeToString(append([]byte{1}, make([]byte, 63)...))),
			keys:       keys("whpk_" + base64.StdEncoding.EncodeToString(append([]byte{1}, make([]byte, 31)...))),
			now:        sent,
			wantReason: ReasonNoUsableKey,
		},
		{
			name:       "a nil request is refused without panicking",
			req:        nil,
			keys:       [][]byte{whpk(current)},
			now:        sent,
			wantReason: ReasonMissingSignature,
		},
	})
}

func TestStandardWebhooksAsymmetricCustomTolerance(t *testing.T) {
	k := testEd25519Key("sw tolerance")
	sent := unix(1700000000)
	const body, id = `{}`, "msg_tolerance"
	r := swReq(body, id, strconv.FormatInt(sent.Unix(), 10), SignStandardWebhooksAsymmetric(id, sent, []byte(body), k))
	runVerifyCases(t, NewStandardWebhooksAsymmetric(time.Minute), []verifyCase{
		{name: "a request within a one-minute tolerance verifies", req: r, keys: [][]byte{whpk(k)}, now: sent.Add(time.Minute), wantID: id, wantTS: sent},
		{name: "a request 61 seconds old is stale under a one-minute tolerance", req: r, keys: [][]byte{whpk(k)}, now: sent.Add(61 * time.Second), wantReason: ReasonTimestampOutOfRange},
	})
}

// TestStandardWebhooksWithOptions checks the scheme selection behind the
// standardwebhooks and svix providers. The receiver passes the endpoint's
// Secret values as keys for these providers, so the asymmetric cases pass
// the shared secret too, to show that it neither helps nor hinders.
func TestStandardWebhooksWithOptions(t *testing.T) {
	signer := testEd25519Key("sw options")
	other := testEd25519Key("sw options other")
	vecTS := unix(swVectorTimestamp)
	vecTSs := strconv.Itoa(swVectorTimestamp)
	v1a := SignStandardWebhooksAsymmetric(swVectorID, vecTS, []byte(swVectorPayload), signer)
	both := swVectorSignature + " " + v1a

	cases := []struct {
		name       string
		publicKeys [][]byte
		sig        string
		keys       [][]byte
		wantReason Reason
	}{
		{name: "without public keys the published v1 vector verifies with its secret", sig: swVectorSignature, keys: keys(swVectorSecret)},
		{name: "without public keys a v1a-only header has nothing to check", sig: v1a, keys: keys(swVectorSecret), wantReason: ReasonMissingSignature},
		{name: "without public keys a header with both schemes verifies by its v1 entry", sig: both, keys: keys(swVectorSecret)},
		{name: "with public keys a v1a signature verifies", publicKeys: [][]byte{whpk(signer)}, sig: v1a, keys: keys(swVectorSecret)},
		{name: "with public keys a v1a signature verifies when the receiver passes no keys", publicKeys: [][]byte{whpk(signer)}, sig: v1a},
		{name: "with public keys a header with both schemes verifies by its v1a entry", publicKeys: [][]byte{whpk(signer)}, sig: both, keys: keys(swVectorSecret)},
		{name: "with public keys a valid v1 signature is not accepted, even with its secret at hand", publicKeys: [][]byte{whpk(signer)}, sig: swVectorSignature, keys: keys(swVectorSecret), wantReason: ReasonMissingSignature},
		{name: "with public keys a v1a signature by another key is refused", publicKeys: [][]byte{whpk(other)}, sig: v1a, keys: keys(swVectorSecret), wantReason: ReasonSignatureMismatch},
		{name: "with public keys a whpk_ key passed by the receiver is used as well", publicKeys: [][]byte{whpk(other)}, sig: v1a, keys: [][]byte{whpk(signer)}},
		{name: "with only unusable public keys nothing can be verified", publicKeys: keys("whpk_!!!"), sig: v1a, keys: keys(swVectorSecret), wantReason: ReasonNoUsableKey},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := NewStandardWebhooksWithOptions(Options{PublicKeys: tc.publicKeys})
			res, err := v.Verify(swReq(swVectorPayload, swVectorID, vecTSs, tc.sig), tc.keys, vecTS)
			if got := ReasonOf(err); got != tc.wantReason {
				t.Fatalf("reason = %q (err %v), want %q", got, err, tc.wantReason)
			}
			if err == nil && (res.DeliveryID != swVectorID || !res.Timestamp.Equal(vecTS)) {
				t.Fatalf("result = %+v", res)
			}
		})
	}

	t.Run("the tolerance option reaches both schemes", func(t *testing.T) {
		late := vecTS.Add(2 * time.Minute)
		for _, pk := range [][][]byte{nil, {whpk(signer)}} {
			v := NewStandardWebhooksWithOptions(Options{Tolerance: time.Minute, PublicKeys: pk})
			_, err := v.Verify(swReq(swVectorPayload, swVectorID, vecTSs, both), keys(swVectorSecret), late)
			if ReasonOf(err) != ReasonTimestampOutOfRange {
				t.Fatalf("public keys %d: err = %v, want TimestampOutOfRange", len(pk), err)
			}
		}
	})
}

func TestParseStandardAsymmetricSignatures(t *testing.T) {
	good := formatStandardAsymmetricSignature(make([]byte, ed25519.SignatureSize))
	cases := []struct {
		name       string
		value      string
		wantCount  int
		wantReason Reason
	}{
		{name: "a single v1a entry yields one signature", value: good, wantCount: 1},
		{name: "the specification's example header yields its v1a entry", value: "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4= " + swSpecV1a, wantCount: 1},
		{name: "entries separated by tabs and several spaces are all read", value: good + "\t  " + good, wantCount: 2},
		{name: "v1 entries are skipped", value: swVectorSignature + " " + good, wantCount: 1},
		{name: "whitespace alone is missing", value: " \t ", wantReason: ReasonMissingSignature},
		{name: "a version compared case-sensitively leaves V1A unrecognised", value: "V1A," + strings.TrimPrefix(good, "v1a,"), wantReason: ReasonMissingSignature},
		{name: "an entry with no comma is malformed", value: "v1a", wantReason: ReasonMalformedSignature},
		{name: "a v1a entry without padding is malformed", value: strings.TrimRight(good, "="), wantReason: ReasonMalformedSignature},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sigs, err := parseStandardAsymmetricSignatures("webhook-signature", tc.value)
			if got := ReasonOf(err); got != tc.wantReason {
				t.Fatalf("reason = %q (err %v), want %q", got, err, tc.wantReason)
			}
			if len(sigs) != tc.wantCount {
				t.Fatalf("got %d signatures, want %d", len(sigs), tc.wantCount)
			}
		})
	}
}
