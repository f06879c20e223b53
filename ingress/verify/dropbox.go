package verify

import (
	"net/http"
	"net/url"
)

// Dropbox (https://www.dropbox.com/developers/reference/webhooks): events
// are the table-driven HMAC recipe (X-Dropbox-Signature, hex HMAC-SHA256
// of the body under the app secret); the verification request is a GET
// ?challenge=<c>, to be echoed with Content-Type: text/plain and
// X-Content-Type-Options: nosniff. The GET carries no signature, so it
// cannot prove itself; echoing proves nothing either, and the challenge is
// echoed only when it is token text, so the answer is no reflection of
// markup.

// DropboxChallengeParam is the query parameter of Dropbox's verification.
const DropboxChallengeParam = "challenge"

func answerDropbox(q url.Values) (Result, error) {
	c, err := oneParam(q, DropboxChallengeParam)
	if err != nil {
		return Result{}, err
	}
	if !tokenText(c) {
		return Result{}, fail(ReasonMalformedSignature, "%s is not a short token", DropboxChallengeParam)
	}
	h := http.Header{}
	h.Set("X-Content-Type-Options", "nosniff")
	return Result{Handshake: &Handshake{Status: http.StatusOK, ContentType: "text/plain", Body: []byte(c), Header: h}}, nil
}
