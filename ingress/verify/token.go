package verify

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

// The table-driven token scheme: providers that do not sign but send a
// credential the receiver chose (Okta event hooks' Authorization secret,
// Mailchimp's secret in the URL, Dialogflow's Basic credentials or header).
// Like bearer and basic, a credential proves only that the sender knows
// it: nothing binds it to the body, and a captured request can be replayed
// or altered. Serve such endpoints over TLS only.

// OktaChallengeHeader carries Okta's one-time verification value.
const OktaChallengeHeader = "X-Okta-Verification-Challenge"

func init() {
	registerScheme(hookv1.SchemeToken, func(info hookv1.ProviderInfo, _ Options) (Verifier, error) {
		if info.Token == nil {
			return nil, fail(ReasonNoUsableKey, "provider %s has no token recipe", info.Name)
		}
		return &tokenVerifier{r: *info.Token, handshake: info.Handshake}, nil
	})
}

type tokenVerifier struct {
	r         hookv1.TokenRecipe
	handshake hookv1.HandshakeInfo
}

// Verify implements Verifier. Every presented credential is compared with
// every key in constant time; one match is enough.
func (v *tokenVerifier) Verify(req *Request, keys [][]byte, _ time.Time) (Result, error) {
	if req == nil {
		return Result{}, errNoRequest()
	}
	presented, err := v.credentials(req)
	if err != nil {
		return Result{}, err
	}
	if len(presented) == 0 {
		return Result{}, fail(ReasonMissingSignature, "no credential (%s) is present", v.where())
	}
	usable := trimmedKeys(keys)
	if len(usable) == 0 {
		return Result{}, fail(ReasonNoUsableKey, "no non-empty key configured")
	}
	match := false
	for _, p := range presented {
		match = credentialMatchesAny(p, usable) || match
	}
	if !match {
		return Result{}, fail(ReasonSignatureMismatch, "the credential matches none of %d keys", len(usable))
	}
	if hs, ok, err := v.answerHandshake(req); ok || err != nil {
		return Result{Handshake: hs}, err
	}
	res := Result{}
	if v.r.IDField != "" {
		res.DeliveryID = jsonPathString(req.Body, v.r.IDField)
	}
	return res, nil
}

func (v *tokenVerifier) where() string {
	var w []string
	if v.r.Header != "" {
		w = append(w, "header "+v.r.Header)
	}
	if v.r.Query != "" {
		w = append(w, "query parameter "+v.r.Query)
	}
	if v.r.AllowBasic {
		w = append(w, "Basic credentials")
	}
	return strings.Join(w, ", ")
}

// credentials returns what the request presents: the whole header value,
// the decoded "user:password" of Basic credentials, the query parameter.
func (v *tokenVerifier) credentials(req *Request) ([][]byte, error) {
	var out [][]byte
	header := v.r.Header
	if header == "" && v.r.AllowBasic {
		header = AuthorizationHeader
	}
	if header != "" {
		value, ok, err := singleHeader(req.Header, header)
		if err != nil {
			return nil, err
		}
		if ok {
			if v.r.Header != "" {
				out = append(out, []byte(value))
			}
			if v.r.AllowBasic && strings.EqualFold(header, AuthorizationHeader) {
				if cred, err := parseAuthorization(value, "Basic"); err == nil {
					pair, err := parseBasicCredentials(cred)
					if err != nil {
						return nil, err
					}
					out = append(out, pair)
				}
			}
		}
	}
	if v.r.Query != "" && req.URL != nil {
		switch vals := req.URL.Query()[v.r.Query]; {
		case len(vals) > 1:
			return nil, fail(ReasonMalformedSignature, "query parameter %s appears %d times", v.r.Query, len(vals))
		case len(vals) == 1 && vals[0] != "":
			out = append(out, []byte(vals[0]))
		}
	}
	return out, nil
}

// answerHandshake answers a provider's verification request, which reaches
// here only after its credential matched: Okta's one-time GET with
// X-Okta-Verification-Challenge is answered {"verification": "<value>"};
// Mailchimp's GET that checks the URL is answered 200.
func (v *tokenVerifier) answerHandshake(req *Request) (*Handshake, bool, error) {
	if v.handshake.Method == "" || req.Method != v.handshake.Method {
		return nil, false, nil
	}
	switch v.handshake.Kind {
	case hookv1.HandshakeOktaChallenge:
		challenge, ok, err := singleHeader(req.Header, OktaChallengeHeader)
		if err != nil {
			return nil, false, err
		}
		if !ok {
			return nil, false, fail(ReasonMissingSignature, "a %s request without %s is no Okta verification", req.Method, OktaChallengeHeader)
		}
		body, _ := json.Marshal(map[string]string{"verification": challenge})
		return &Handshake{Status: http.StatusOK, ContentType: "application/json", Body: body}, true, nil
	case hookv1.HandshakeMailchimpValidator:
		return &Handshake{Status: http.StatusOK, ContentType: "text/plain", Body: []byte{}}, true, nil
	}
	return nil, false, nil
}

// signToken puts key where the recipe says the provider sends it.
func signToken(r hookv1.TokenRecipe, req *Request, key []byte) {
	key = bytes.TrimSpace(key)
	switch {
	case r.Query != "":
		q := req.URL.Query()
		q.Set(r.Query, string(key))
		req.URL.RawQuery = q.Encode()
	case r.AllowBasic && bytes.IndexByte(key, ':') >= 0:
		req.Header.Set(AuthorizationHeader, "Basic "+base64.StdEncoding.EncodeToString(key))
	default:
		req.Header.Set(r.Header, string(key))
	}
}
