package verify

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"time"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

// Strava's Webhook Events API (https://developers.strava.com/docs/webhooks/):
//
//   - Callback validation, when a subscription is created: a GET with
//     hub.mode=subscribe, hub.verify_token=<the token given to Strava> and
//     hub.challenge=<c>, to be answered within two seconds with 200 and
//     application/json {"hub.challenge": "<c>"}. It is answered only when
//     the verify token is the endpoint's key.
//   - Events: a JSON POST of object_type, object_id, aspect_type,
//     owner_id, subscription_id, event_time and updates, retried (three
//     attempts in all) until answered 200.
//
// Strava does not sign events and sends no credential with them: the
// verify token protects the subscription only. This verifier can check
// that a POST looks like a Strava event, which stops scanners and typos,
// not someone who knows the URL. The endpoint's unguessable path (never
// share status.url beyond Strava) and spec.sourceRanges are the protection;
// a target should treat each event as a hint and fetch the object from
// Strava's API, as Strava recommends anyway.

func init() {
	register(string(hookv1.SchemeStrava), func(Options) (Verifier, error) { return stravaVerifier{}, nil })
}

type stravaVerifier struct{}

// stravaEvent is the part of an event the shape check reads.
type stravaEvent struct {
	ObjectType     string           `json:"object_type"`
	AspectType     string           `json:"aspect_type"`
	ObjectID       *json.Number     `json:"object_id"`
	SubscriptionID *json.Number     `json:"subscription_id"`
	Updates        *json.RawMessage `json:"updates"`
}

// Verify implements Verifier. keys are verify tokens, for the GET only.
func (stravaVerifier) Verify(req *Request, keys [][]byte, _ time.Time) (Result, error) {
	if req == nil {
		return Result{}, errNoRequest()
	}
	if req.Method == http.MethodGet {
		return answerStrava(req, keys)
	}
	d := json.NewDecoder(bytes.NewReader(req.Body))
	d.UseNumber()
	var ev stravaEvent
	if err := d.Decode(&ev); err != nil {
		return Result{}, fail(ReasonMalformedSignature, "the body is not a Strava event (a JSON object)")
	}
	switch {
	case ev.ObjectType != "activity" && ev.ObjectType != "athlete":
		return Result{}, fail(ReasonMalformedSignature, "object_type is %q, not activity or athlete", ev.ObjectType)
	case ev.AspectType != "create" && ev.AspectType != "update" && ev.AspectType != "delete":
		return Result{}, fail(ReasonMalformedSignature, "aspect_type is %q, not create, update or delete", ev.AspectType)
	case ev.ObjectID == nil || ev.SubscriptionID == nil:
		return Result{}, fail(ReasonMalformedSignature, "object_id or subscription_id is absent")
	}
	// Strava sends no delivery id; a retry is the same body.
	sum := sha256.Sum256(req.Body)
	return Result{DeliveryID: hex.EncodeToString(sum[:])}, nil
}

func answerStrava(req *Request, keys [][]byte) (Result, error) {
	q, err := handshakeQuery(req)
	if err != nil {
		return Result{}, err
	}
	token, challenge, err := hubSubscription(q)
	if err != nil {
		return Result{}, err
	}
	tokens := trimmedKeys(keys)
	if len(tokens) == 0 {
		return Result{}, fail(ReasonNoUsableKey, "no verify token configured")
	}
	if !credentialMatchesAny([]byte(token), tokens) {
		return Result{}, fail(ReasonSignatureMismatch, "%s matches none of %d verify tokens", MetaVerifyTokenParam, len(tokens))
	}
	body, _ := json.Marshal(map[string]string{MetaChallengeParam: challenge})
	h := http.Header{}
	h.Set("X-Content-Type-Options", "nosniff")
	return Result{Handshake: &Handshake{Status: http.StatusOK, ContentType: "application/json", Body: body, Header: h}}, nil
}

// StravaEvent returns a body as Strava posts it, for `hookgate send`: the
// payload's fields over a sample activity event.
func StravaEvent(payload []byte, now time.Time) ([]byte, error) {
	ev := map[string]any{
		"object_type": "activity", "object_id": 1360128428, "aspect_type": "create",
		"owner_id": 134815, "subscription_id": 120475, "event_time": now.Unix(), "updates": map[string]any{},
	}
	var extra map[string]json.RawMessage
	if len(bytes.TrimSpace(payload)) > 0 && json.Unmarshal(payload, &extra) == nil {
		for k, v := range extra {
			ev[k] = v
		}
	}
	return json.Marshal(ev)
}
