package verify

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Slack's worked example from "Verifying requests from Slack"
// (https://api.slack.com/authentication/verifying-requests-from-slack): a
// real provider whose scheme needs a template, a prefix and a timestamp.
const (
	slackDocSecret    = "8f742231b10e8888abcd99yyyzzz85a5"
	slackDocTimestamp = 1531420618
	slackDocBody      = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
	slackDocSignature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
)

// slackOptions describe Slack's scheme in GenericHMACOptions.
var slackOptions = GenericHMACOptions{
	Header:          "X-Slack-Signature",
	Prefix:          "v0=",
	TimestampHeader: "X-Slack-Request-Timestamp",
	SignedContent:   "v0:{timestamp}:{body}",
}

// RFC 4231 test case 2 (HMAC-SHA-256/512) and RFC 2202 test case 2
// (HMAC-SHA-1): key "Jefe", data "what do ya want for nothing?".
// https://www.rfc-editor.org/rfc/rfc4231#section-4.3
// https://www.rfc-editor.org/rfc/rfc2202#section-3
const (
	rfcKey    = "Jefe"
	rfcData   = "what do ya want for nothing?"
	rfcSHA1   = "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
	rfcSHA256 = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
	rfcSHA512 = "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
)

func mustGeneric(t *testing.T, opts GenericHMACOptions) Verifier {
	t.Helper()
	v, err := NewGenericHMAC(opts)
	if err != nil {
		t.Fatalf("NewGenericHMAC(%+v): %v", opts, err)
	}
	return v
}

func hexToBase64(t *testing.T, h string) string {
	t.Helper()
	b, err := hex.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func TestGenericHMACPublishedVectors(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		name string
		opts GenericHMACOptions
		verifyCase
	}{
		{
			name:       "GitHub's published example verifies when GitHub's scheme is described generically",
			opts:       GenericHMACOptions{Header: "X-Hub-Signature-256", Prefix: "sha256="},
			verifyCase: verifyCase{req: req(githubDocPayload, "X-Hub-Signature-256", githubDocSignature), keys: keys(githubDocSecret), now: now},
		},
		{
			name: "Slack's published example verifies with a v0:{timestamp}:{body} template",
			opts: slackOptions,
			verifyCase: verifyCase{
				req:    req(slackDocBody, "X-Slack-Signature", slackDocSignature, "X-Slack-Request-Timestamp", strconv.Itoa(slackDocTimestamp)),
				keys:   keys(slackDocSecret),
				now:    unix(slackDocTimestamp),
				wantTS: unix(slackDocTimestamp),
			},
		},
		{
			name: "Slack's published example is refused an hour later as stale",
			opts: slackOptions,
			verifyCase: verifyCase{
				req:        req(slackDocBody, "X-Slack-Signature", slackDocSignature, "X-Slack-Request-Timestamp", strconv.Itoa(slackDocTimestamp)),
				keys:       keys(slackDocSecret),
				now:        unix(slackDocTimestamp).Add(time.Hour),
				wantReason: ReasonTimestampOutOfRange,
			},
		},
		{
			name:       "the RFC 4231 HMAC-SHA-256 vector verifies with default options",
			opts:       GenericHMACOptions{},
			verifyCase: verifyCase{req: req(rfcData, "X-Signature", rfcSHA256), keys: keys(rfcKey), now: now},
		},
		{
			name:       "the RFC 4231 HMAC-SHA-512 vector verifies",
			opts:       GenericHMACOptions{Algorithm: "sha512"},
			verifyCase: verifyCase{req: req(rfcData, "X-Signature", rfcSHA512), keys: keys(rfcKey), now: now},
		},
		{
			name:       "the RFC 2202 HMAC-SHA-1 vector verifies",
			opts:       GenericHMACOptions{Algorithm: "sha1"},
			verifyCase: verifyCase{req: req(rfcData, "X-Signature", rfcSHA1), keys: keys(rfcKey), now: now},
		},
		{
			name:       "the RFC 4231 HMAC-SHA-256 vector verifies in upper-case hex",
			opts:       GenericHMACOptions{},
			verifyCase: verifyCase{req: req(rfcData, "X-Signature", strings.ToUpper(rfcSHA256)), keys: keys(rfcKey), now: now},
		},
		{
			name:       "the RFC 4231 HMAC-SHA-256 vector verifies in base64",
			opts:       GenericHMACOptions{Encoding: "base64"},
			verifyCase: verifyCase{req: req(rfcData, "X-Signature", hexToBase64(t, rfcSHA256)), keys: keys(rfcKey), now: now},
		},
		{
			name:       "the RFC 4231 HMAC-SHA-256 vector verifies in base64 without padding",
			opts:       GenericHMACOptions{Encoding: "base64"},
			verifyCase: verifyCase{req: req(rfcData, "X-Signature", strings.TrimRight(hexToBase64(t, rfcSHA256), "=")), keys: keys(rfcKey), now: now},
		},
		{
			name:       "the RFC 4231 HMAC-SHA-512 vector in the SHA-256 slot is malformed by length",
			opts:       GenericHMACOptions{},
			verifyCase: verifyCase{req: req(rfcData, "X-Signature", rfcSHA512), keys: keys(rfcKey), now: now, wantReason: ReasonMalformedSignature},
		},
	}
	for _, tc := range cases {
		tc.verifyCase.name = tc.name
		runVerifyCases(t, mustGeneric(t, tc.opts), []verifyCase{tc.verifyCase})
	}
}

func TestGenericHMACVerify(t *testing.T) {
	const (
		current  = "current-secret"
		previous = "previous-secret"
		body     = `{"event":"order.created","id":42}`
		id       = "evt_123"
	)
	sent := unix(1700000000)
	sentS := strconv.FormatInt(sent.Unix(), 10)
	hookURL := "https://hooks.example.com/hook"

	opts := GenericHMACOptions{
		Header:          "X-Acme-Signature",
		Algorithm:       "sha512",
		Encoding:        "base64",
		Prefix:          "v1=",
		IDHeader:        "X-Acme-Id",
		TimestampHeader: "X-Acme-Timestamp",
		Tolerance:       2 * time.Minute,
		SignedContent:   "{id}.{timestamp}.{url}.{body}",
	}
	sign := func(key, id, ts, u, b string) string {
		return "v1=" + base64.StdEncoding.EncodeToString(mac(sha512.New, key, id, ".", ts, ".", u, ".", b))
	}
	acme := func(b, sig string, extra ...string) *Request {
		return req(b, append([]string{"X-Acme-Signature", sig, "X-Acme-Id", id, "X-Acme-Timestamp", sentS}, extra...)...)
	}
	sig := sign(current, id, sentS, hookURL, body)

	noURL := acme(body, sig)
	noURL.URL = nil
	otherURL := acme(body, sig)
	otherURL.URL = &url.URL{Scheme: "https", Host: "evil.example.com", Path: "/hook"}

	runVerifyCases(t, mustGeneric(t, opts), []verifyCase{
		{
			name:   "a request signed over id, timestamp, URL and body verifies",
			req:    acme(body, sig),
			keys:   keys(current),
			now:    sent,
			wantID: id,
			wantTS: sent,
		},
		{
			name:   "an upper-case prefix is accepted",
			req:    acme(body, "V1="+strings.TrimPrefix(sig, "v1=")),
			keys:   keys(current),
			now:    sent,
			wantID: id,
			wantTS: sent,
		},
		{
			name:   "a request signed with the previous key verifies while both keys are configured",
			req:    acme(body, sign(previous, id, sentS, hookURL, body)),
			keys:   keys(current, previous),
			now:    sent,
			wantID: id,
			wantTS: sent,
		},
		{
			name:   "a timestamp at the edge of a two-minute tolerance verifies",
			req:    acme(body, sig),
			keys:   keys(current),
			now:    sent.Add(2 * time.Minute),
			wantID: id,
			wantTS: sent,
		},
		{
			name:       "a stale timestamp is refused",
			req:        acme(body, sig),
			keys:       keys(current),
			now:        sent.Add(2*time.Minute + time.Second),
			wantReason: ReasonTimestampOutOfRange,
		},
		{
			name:       "a future timestamp is refused",
			req:        acme(body, sig),
			keys:       keys(current),
			now:        sent.Add(-2*time.Minute - time.Second),
			wantReason: ReasonTimestampOutOfRange,
		},
		{
			name:       "a tampered body is refused",
			req:        acme(body+" ", sig),
			keys:       keys(current),
			now:        sent,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a signature made with a wrong secret is refused",
			req:        acme(body, sign("wrong", id, sentS, hookURL, body)),
			keys:       keys(current, previous),
			now:        sent,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a request replayed to another URL is refused because the URL is signed",
			req:        otherURL,
			keys:       keys(current),
			now:        sent,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a request without a URL is refused without panicking",
			req:        noURL,
			keys:       keys(current),
			now:        sent,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a missing signature header is refused as missing",
			req:        req(body, "X-Acme-Id", id, "X-Acme-Timestamp", sentS),
			keys:       keys(current),
			now:        sent,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "a missing timestamp header is refused as missing",
			req:        req(body, "X-Acme-Signature", sig, "X-Acme-Id", id),
			keys:       keys(current),
			now:        sent,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "a missing id header is refused as missing when the template signs the id",
			req:        req(body, "X-Acme-Signature", sig, "X-Acme-Timestamp", sentS),
			keys:       keys(current),
			now:        sent,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "a signature without its prefix is malformed",
			req:        acme(body, strings.TrimPrefix(sig, "v1=")),
			keys:       keys(current),
			now:        sent,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a signature that is not base64 is malformed",
			req:        acme(body, "v1=%%%"),
			keys:       keys(current),
			now:        sent,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a hex signature where base64 is configured is malformed",
			req:        acme(body, "v1="+hex.EncodeToString(mac(sha512.New, current, body))),
			keys:       keys(current),
			now:        sent,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a timestamp that is not unix seconds is malformed",
			req:        req(body, "X-Acme-Signature", sig, "X-Acme-Id", id, "X-Acme-Timestamp", "2023-11-14T22:13:20Z"),
			keys:       keys(current),
			now:        sent,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "only empty keys are never usable",
			req:        acme(body, sig),
			keys:       keys(""),
			now:        sent,
			wantReason: ReasonNoUsableKey,
		},
		{
			name:       "a nil request is refused without panicking",
			req:        nil,
			keys:       keys(current),
			now:        sent,
			wantReason: ReasonMissingSignature,
		},
	})
}

func TestGenericHMACOptionalID(t *testing.T) {
	const key, body = "k", "payload"
	v := mustGeneric(t, GenericHMACOptions{IDHeader: "X-Delivery"})
	sig := hex.EncodeToString(mac(sha256.New, key, body))
	now := time.Unix(0, 0)

	runVerifyCases(t, v, []verifyCase{
		{
			name:   "the id header becomes the delivery id",
			req:    req(body, "X-Signature", sig, "X-Delivery", "d-1"),
			keys:   keys(key),
			now:    now,
			wantID: "d-1",
		},
		{
			name: "a missing id header leaves the delivery id empty when the template does not sign the id",
			req:  req(body, "X-Signature", sig),
			keys: keys(key),
			now:  now,
		},
		{
			name:       "a tampered body is refused with default options",
			req:        req(body+"!", "X-Signature", sig),
			keys:       keys(key),
			now:        now,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a signature truncated to 16 bytes is malformed",
			req:        req(body, "X-Signature", sig[:32]),
			keys:       keys(key),
			now:        now,
			wantReason: ReasonMalformedSignature,
		},
	})
}

func TestNewGenericHMACValidatesOptions(t *testing.T) {
	cases := []struct {
		name    string
		opts    GenericHMACOptions
		wantErr string // "" means valid
	}{
		{name: "zero options are valid and mean sha256 hex over the body in X-Signature", opts: GenericHMACOptions{}},
		{name: "algorithm and encoding names are case-insensitive", opts: GenericHMACOptions{Algorithm: "SHA512", Encoding: "Base64"}},
		{name: "a timestamp header without a tolerance takes the default", opts: GenericHMACOptions{TimestampHeader: "X-Ts", SignedContent: "{timestamp}.{body}"}},
		{name: "the Slack description is valid", opts: slackOptions},
		{name: "an unsupported algorithm is refused", opts: GenericHMACOptions{Algorithm: "md5"}, wantErr: `Algorithm "md5" is not supported`},
		{name: "an unsupported encoding is refused", opts: GenericHMACOptions{Encoding: "base32"}, wantErr: `Encoding "base32" is not supported`},
		{name: "a header name with a space is refused", opts: GenericHMACOptions{Header: "X Signature"}, wantErr: "not a valid HTTP header name"},
		{name: "an id header with a colon is refused", opts: GenericHMACOptions{IDHeader: "X-Id:"}, wantErr: "IDHeader"},
		{name: "an id header equal to the signature header is refused", opts: GenericHMACOptions{IDHeader: "x-signature"}, wantErr: "IDHeader must differ"},
		{name: "a template without the body is refused", opts: GenericHMACOptions{SignedContent: "constant"}, wantErr: "does not include {body}"},
		{name: "an unknown placeholder is refused", opts: GenericHMACOptions{SignedContent: "{tiemstamp}.{body}"}, wantErr: "unknown placeholder {tiemstamp}"},
		{name: "an unclosed brace is refused", opts: GenericHMACOptions{SignedContent: "{body"}, wantErr: "never closed"},
		{name: "a template using the timestamp needs a timestamp header", opts: GenericHMACOptions{SignedContent: "{timestamp}.{body}"}, wantErr: "TimestampHeader is not set"},
		{name: "a template using the id needs an id header", opts: GenericHMACOptions{SignedContent: "{id}.{body}"}, wantErr: "IDHeader is not set"},
		{name: "a timestamp header that is not signed is refused", opts: GenericHMACOptions{TimestampHeader: "X-Ts"}, wantErr: "does not use {timestamp}"},
		{name: "a tolerance without a timestamp header is refused", opts: GenericHMACOptions{Tolerance: time.Minute}, wantErr: "no timestamp to check"},
		{name: "a negative tolerance is refused", opts: GenericHMACOptions{TimestampHeader: "X-Ts", SignedContent: "{timestamp}{body}", Tolerance: -time.Second}, wantErr: "negative"},
		{name: "several problems are reported together", opts: GenericHMACOptions{Algorithm: "md5", Encoding: "base32"}, wantErr: "Encoding"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := NewGenericHMAC(tc.opts)
			if tc.wantErr == "" {
				if err != nil || v == nil {
					t.Fatalf("got (%v, %v), want a verifier", v, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got no error, want one containing %q", tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %q does not contain %q", err, tc.wantErr)
			}
			if v != nil {
				t.Fatalf("got a verifier alongside error %v", err)
			}
		})
	}
}

func TestParseSignedContent(t *testing.T) {
	segs, err := parseSignedContent("a{body}b{timestamp}{id}{url}}")
	if err != nil {
		t.Fatal(err)
	}
	want := []segment{{kind: literal, text: "a"}, {kind: phBody}, {kind: literal, text: "b"}, {kind: phTimestamp}, {kind: phID}, {kind: phURL}, {kind: literal, text: "}"}}
	if len(segs) != len(want) {
		t.Fatalf("got %+v, want %+v", segs, want)
	}
	for i := range want {
		if segs[i] != want[i] {
			t.Fatalf("segment %d = %+v, want %+v", i, segs[i], want[i])
		}
	}
}

// A sha1 generic verifier keeps using SHA-1 even when handed a SHA-256-sized
// signature, so a caller cannot choose the algorithm by choosing the length.
func TestGenericHMACAlgorithmIsFixedByConfiguration(t *testing.T) {
	v := mustGeneric(t, GenericHMACOptions{Algorithm: "sha1"})
	r := req(rfcData, "X-Signature", rfcSHA256)
	if _, err := v.Verify(r, keys(rfcKey), time.Time{}); ReasonOf(err) != ReasonMalformedSignature {
		t.Fatalf("err = %v, want MalformedSignature", err)
	}
	r = req(rfcData, "X-Signature", hex.EncodeToString(mac(sha1.New, rfcKey, rfcData)))
	if _, err := v.Verify(r, keys(rfcKey), time.Time{}); err != nil {
		t.Fatalf("err = %v, want nil", err)
	}
}
