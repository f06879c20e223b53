package verify

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
)

// Slack's published example is the worked one in "Verifying requests from
// Slack" (https://api.slack.com/authentication/verifying-requests-from-slack),
// held as slackDoc* in generic_test.go. The url_verification body below is the
// one in https://api.slack.com/events/url_verification.
const slackDocURLVerification = `{
    "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
    "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
    "type": "url_verification"
}`

const slackEventCallback = `{"token":"XXYYZZ","team_id":"T123ABC456","api_app_id":"A123ABC456","event":{"type":"app_mention","user":"U123ABC456","text":"<@U0LAN0Z89> hi","ts":"1515449522.000016","channel":"C123ABC456","event_ts":"1515449522000016"},"type":"event_callback","event_id":"Ev123ABC456","event_time":1515449522}`

func TestSlackVerify(t *testing.T) {
	const (
		secret   = "slack-signing-secret"
		previous = "slack-previous-secret"
	)
	docTS := unix(slackDocTimestamp)
	docTSs := strconv.Itoa(slackDocTimestamp)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	sent := now.Add(-3 * time.Second)
	ts, sig := SignSlack(sent, []byte(slackEventCallback), []byte(secret))
	slackReq := func(body, ts, sig string) *Request {
		return req(body, "X-Slack-Request-Timestamp", ts, "X-Slack-Signature", sig, "X-Slack-Retry-Num", "1")
	}

	runVerifyCases(t, NewSlack(0), []verifyCase{
		{
			name:   "Slack's published example (a slash command) verifies at its own time",
			req:    slackReq(slackDocBody, docTSs, slackDocSignature),
			keys:   keys(slackDocSecret),
			now:    docTS,
			wantTS: docTS,
		},
		{
			name:   "an Events API callback verifies and its event_id is the delivery id",
			req:    slackReq(slackEventCallback, ts, sig),
			keys:   keys(secret),
			now:    now,
			wantID: "Ev123ABC456",
			wantTS: unix(sent.Unix()),
		},
		{
			name:   "during rotation a request signed with the second secret verifies",
			req:    slackReq(slackDocBody, docTSs, slackDocSignature),
			keys:   keys(secret, slackDocSecret),
			now:    docTS,
			wantTS: docTS,
		},
		{
			name:   "a request exactly five minutes old is still accepted",
			req:    slackReq(slackDocBody, docTSs, slackDocSignature),
			keys:   keys(slackDocSecret),
			now:    docTS.Add(5 * time.Minute),
			wantTS: docTS,
		},
		{
			name:       "a request more than five minutes old is refused as stale",
			req:        slackReq(slackDocBody, docTSs, slackDocSignature),
			keys:       keys(slackDocSecret),
			now:        docTS.Add(5*time.Minute + time.Second),
			wantReason: ReasonTimestampOutOfRange,
		},
		{
			name:       "a request stamped more than five minutes ahead is refused",
			req:        slackReq(slackDocBody, docTSs, slackDocSignature),
			keys:       keys(slackDocSecret),
			now:        docTS.Add(-5*time.Minute - time.Second),
			wantReason: ReasonTimestampOutOfRange,
		},
		{
			name:       "the published example with a tampered body is refused",
			req:        slackReq(strings.Replace(slackDocBody, "foobar", "foobaz", 1), docTSs, slackDocSignature),
			keys:       keys(slackDocSecret),
			now:        docTS,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a signature replayed with a fresher timestamp is refused, since the timestamp is signed",
			req:        slackReq(slackDocBody, strconv.Itoa(slackDocTimestamp+60), slackDocSignature),
			keys:       keys(slackDocSecret),
			now:        docTS,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a signature made with a wrong secret is refused",
			req:        slackReq(slackDocBody, docTSs, slackDocSignature),
			keys:       keys(secret, previous),
			now:        docTS,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a signature of another version is malformed",
			req:        slackReq(slackDocBody, docTSs, "v1="+strings.TrimPrefix(slackDocSignature, "v0=")),
			keys:       keys(slackDocSecret),
			now:        docTS,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a signature that is not hex is malformed",
			req:        slackReq(slackDocBody, docTSs, "v0=zz"+slackDocSignature[5:]),
			keys:       keys(slackDocSecret),
			now:        docTS,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a timestamp with a fraction is malformed",
			req:        slackReq(slackDocBody, docTSs+".5", slackDocSignature),
			keys:       keys(slackDocSecret),
			now:        docTS,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a negative timestamp is malformed",
			req:        slackReq(slackDocBody, "-"+docTSs, slackDocSignature),
			keys:       keys(slackDocSecret),
			now:        docTS,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a missing signature header is refused as missing",
			req:        req(slackDocBody, "X-Slack-Request-Timestamp", docTSs),
			keys:       keys(slackDocSecret),
			now:        docTS,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "a missing timestamp header is refused as missing",
			req:        req(slackDocBody, "X-Slack-Signature", slackDocSignature),
			keys:       keys(slackDocSecret),
			now:        docTS,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "a timestamp header sent twice is malformed",
			req:        req(slackDocBody, "X-Slack-Signature", slackDocSignature, "X-Slack-Request-Timestamp", docTSs, "X-Slack-Request-Timestamp", docTSs),
			keys:       keys(slackDocSecret),
			now:        docTS,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "only empty keys are never usable",
			req:        slackReq(slackDocBody, docTSs, slackDocSignature),
			keys:       keys(""),
			now:        docTS,
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

func TestSlackURLVerificationHandshake(t *testing.T) {
	const secret = "slack-signing-secret"
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	body := []byte(slackDocURLVerification)
	ts, sig := SignSlack(now, body, []byte(secret))
	_, wrongSig := SignSlack(now, body, []byte("not-the-secret"))
	staleTS, staleSig := SignSlack(now.Add(-time.Hour), body, []byte(secret))
	const challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"

	cases := []struct {
		name          string
		ts, sig       string
		body          []byte
		wantReason    Reason
		wantHandshake bool
	}{
		{name: "a signed url_verification is answered with its challenge", ts: ts, sig: sig, body: body, wantHandshake: true},
		{name: "a url_verification with a wrong signature is refused and not answered", ts: ts, sig: wrongSig, body: body, wantReason: ReasonSignatureMismatch},
		{name: "an unsigned url_verification is refused and not answered", body: body, wantReason: ReasonMissingSignature},
		{name: "a stale url_verification is refused and not answered", ts: staleTS, sig: staleSig, body: body, wantReason: ReasonTimestampOutOfRange},
		{name: "a url_verification whose challenge was swapped after signing is refused", ts: ts, sig: sig, body: bytes.Replace(body, []byte(challenge), []byte("attacker-chosen"), 1), wantReason: ReasonSignatureMismatch},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.ts != "" {
				h.Set(SlackTimestampHeader, tc.ts)
			}
			if tc.sig != "" {
				h.Set(SlackSignatureHeader, tc.sig)
			}
			res, err := NewSlack(0).Verify(&Request{Method: http.MethodPost, Header: h, Body: tc.body}, keys(secret), now)
			if ReasonOf(err) != tc.wantReason {
				t.Fatalf("err = %v, want reason %q", err, tc.wantReason)
			}
			if !tc.wantHandshake {
				if res.Handshake != nil {
					t.Fatalf("handshake answered for a refused request: %+v", res.Handshake)
				}
				return
			}
			hs := res.Handshake
			if hs == nil {
				t.Fatal("no handshake for a verified url_verification")
			}
			if hs.Status != http.StatusOK || hs.ContentType != "text/plain" || string(hs.Body) != challenge {
				t.Fatalf("handshake = %d %q %q, want 200 text/plain %q", hs.Status, hs.ContentType, hs.Body, challenge)
			}
			if res.DeliveryID != "" {
				t.Fatalf("a handshake has no delivery id, got %q", res.DeliveryID)
			}
		})
	}
}

func TestParseSlackBody(t *testing.T) {
	cases := []struct {
		name string
		body string
		want slackBody
	}{
		{name: "an event callback yields its event_id", body: slackEventCallback, want: slackBody{eventID: "Ev123ABC456"}},
		{name: "a url_verification yields its challenge", body: slackDocURLVerification, want: slackBody{challenge: "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}},
		{name: "a form-encoded slash command yields nothing", body: slackDocBody},
		{name: "a url_verification without a challenge is not a handshake", body: `{"type":"url_verification"}`},
		{name: "a challenge that is not a string is not a handshake", body: `{"type":"url_verification","challenge":42}`},
		{name: "an event_id that is not a string is ignored", body: `{"type":"event_callback","event_id":7}`},
		{name: "key matching is exact", body: `{"type":"event_callback","Event_ID":"Ev1"}`},
		{name: "a challenge outside url_verification is not a handshake", body: `{"type":"event_callback","challenge":"x","event_id":"Ev2"}`, want: slackBody{eventID: "Ev2"}},
		{name: "truncated JSON yields nothing", body: `{"type":"url_verification","challenge":"abc`},
		{name: "a JSON array yields nothing", body: `[{"type":"url_verification","challenge":"abc"}]`},
		{name: "an empty body yields nothing", body: ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseSlackBody([]byte(tc.body)); got != tc.want {
				t.Fatalf("parseSlackBody = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestSlackAgreesWithSlackGo holds the verifier to github.com/slack-go/slack's
// SecretsVerifier, the Go library Slack lists among its community SDKs: for an
// untouched request and for every tampering, both accept or both refuse.
// slack-go checks the timestamp against the real clock, so requests are
// stamped with time.Now(). slack-go cannot sign, so the signatures are made
// here; the published example above pins this package's signer to Slack's.
func TestSlackAgreesWithSlackGo(t *testing.T) {
	const secret = "e6b19c573432dcc6b075501d51b51bb8"
	now := time.Now()
	body := []byte(slackEventCallback)
	ts, sig := SignSlack(now, body, []byte(secret))
	oldTS, oldSig := SignSlack(now.Add(-6*time.Minute), body, []byte(secret))
	futureTS, futureSig := SignSlack(now.Add(6*time.Minute), body, []byte(secret))

	cases := []struct {
		name    string
		ts, sig string
		body    []byte
		secret  string
		accept  bool
	}{
		{name: "an untouched request is accepted by both", ts: ts, sig: sig, body: body, secret: secret, accept: true},
		{name: "a changed body is refused by both", ts: ts, sig: sig, body: append(bytes.Clone(body), ' '), secret: secret},
		{name: "a changed timestamp is refused by both", ts: strconv.FormatInt(now.Unix()-1, 10), sig: sig, body: body, secret: secret},
		{name: "a flipped signature digit is refused by both", ts: ts, sig: flipAt(sig, 1), body: body, secret: secret},
		{name: "another secret is refused by both", ts: ts, sig: sig, body: body, secret: secret + "x"},
		{name: "a request six minutes old is refused by both", ts: oldTS, sig: oldSig, body: body, secret: secret},
		{name: "a request stamped six minutes ahead is refused by both", ts: futureTS, sig: futureSig, body: body, secret: secret},
		{name: "a signature without v0= is refused by both", ts: ts, sig: strings.TrimPrefix(sig, "v0="), body: body, secret: secret},
		{name: "a truncated signature is refused by both", ts: ts, sig: sig[:len(sig)-2], body: body, secret: secret},
		{name: "an empty body signed as such is accepted by both", ts: ts, sig: slackSigFor(now, nil, secret), body: nil, secret: secret, accept: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			h.Set(SlackTimestampHeader, tc.ts)
			h.Set(SlackSignatureHeader, tc.sig)

			_, err := NewSlack(0).Verify(&Request{Header: h, Body: tc.body}, keys(tc.secret), now)
			if (err == nil) != tc.accept {
				t.Fatalf("here: err = %v, want accept %v", err, tc.accept)
			}

			sv, libErr := slack.NewSecretsVerifier(h, tc.secret)
			if libErr == nil {
				if _, werr := sv.Write(tc.body); werr != nil {
					t.Fatal(werr)
				}
				libErr = sv.Ensure()
			}
			if (libErr == nil) != tc.accept {
				t.Fatalf("slack-go: err = %v, want accept %v", libErr, tc.accept)
			}
		})
	}
}

func slackSigFor(ts time.Time, body []byte, secret string) string {
	_, sig := SignSlack(ts, body, []byte(secret))
	return sig
}

// TestSlackBodyParsingAgreesWithSlackEvents checks the lenient body parse
// against slack-go's slackevents parser, for the two fields this package
// reads.
func TestSlackBodyParsingAgreesWithSlackEvents(t *testing.T) {
	for _, body := range []string{slackEventCallback, slackDocURLVerification} {
		ev, err := slackevents.ParseEvent(json.RawMessage(body), slackevents.OptionNoVerifyToken())
		if err != nil {
			t.Fatalf("slackevents: %v", err)
		}
		got := parseSlackBody([]byte(body))
		switch data := ev.Data.(type) {
		case *slackevents.EventsAPIURLVerificationEvent:
			if got.challenge != data.Challenge || got.eventID != "" {
				t.Fatalf("parsed %+v, slackevents challenge %q", got, data.Challenge)
			}
		case *slackevents.EventsAPICallbackEvent:
			if got.eventID != data.EventID || got.challenge != "" {
				t.Fatalf("parsed %+v, slackevents event_id %q", got, data.EventID)
			}
		default:
			t.Fatalf("unexpected slackevents data %T", ev.Data)
		}
	}
}

func TestSlackIsRegisteredWithTolerance(t *testing.T) {
	v, err := New("slack", Options{Tolerance: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	r := req(slackDocBody, "X-Slack-Request-Timestamp", strconv.Itoa(slackDocTimestamp), "X-Slack-Signature", slackDocSignature)
	if _, err := v.Verify(r, keys(slackDocSecret), unix(slackDocTimestamp).Add(time.Minute)); err != nil {
		t.Fatalf("inside Options.Tolerance: %v", err)
	}
	if _, err := v.Verify(r, keys(slackDocSecret), unix(slackDocTimestamp).Add(2*time.Minute)); ReasonOf(err) != ReasonTimestampOutOfRange {
		t.Fatalf("Options.Tolerance not applied: %v", err)
	}
}
