package verify

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// FuzzSvixHeaders drives the svix provider with arbitrary svix-* header
// values (and a webhook-* id that may or may not be present, to exercise the
// choice of header family). Nothing may panic or fail with an unknown
// reason, and a delivery this test signs under svix-* names with any id and
// body must verify.
func FuzzSvixHeaders(f *testing.F) {
	f.Add(swVectorID, strconv.Itoa(swVectorTimestamp), swVectorSignature, "", []byte(swVectorPayload))
	f.Add("", "", "", "", []byte{})
	f.Add("msg_1", "-1", "v1,", "x", []byte("{}"))
	f.Add("msg.with.dots", "99999999999999999999", "v1a,abc v1,def", "", []byte("\x00\xff"))
	f.Add(" msg ", "1614265330 ", "  "+swVectorSignature+"  ", "webhook", []byte(swVectorPayload))
	v, err := New("svix", Options{})
	if err != nil {
		f.Fatal(err)
	}
	now := unix(swVectorTimestamp)
	f.Fuzz(func(t *testing.T, id, ts, sig, webhookID string, body []byte) {
		h := http.Header{}
		h.Set(SvixIDHeader, id)
		h.Set(SvixTimestampHeader, ts)
		h.Set(SvixSignatureHeader, sig)
		if webhookID != "" {
			h.Set(StandardWebhooksIDHeader, webhookID)
		}
		_, err := v.Verify(&Request{Header: h, Body: body}, keys(swVectorSecret, "", "whsec_***"), now)
		switch ReasonOf(err) {
		case "", ReasonMissingSignature, ReasonMalformedSignature, ReasonSignatureMismatch, ReasonTimestampOutOfRange, ReasonNoUsableKey:
		default:
			t.Fatalf("unknown reason in %v", err)
		}

		// Header values arrive trimmed and non-empty from net/http; any
		// such id must work.
		id = strings.TrimSpace(id)
		if id == "" {
			return
		}
		signed := http.Header{}
		signed.Set(SvixIDHeader, id)
		signed.Set(SvixTimestampHeader, strconv.FormatInt(now.Unix(), 10))
		signed.Set(SvixSignatureHeader, SignStandardWebhooks(id, now, body, []byte(swVectorSecret)))
		res, err := v.Verify(&Request{Header: signed, Body: body}, keys(swVectorSecret), now)
		if err != nil || res.DeliveryID != id {
			t.Fatalf("signed delivery with id %q: result %+v, err %v", id, res, err)
		}
	})
}
