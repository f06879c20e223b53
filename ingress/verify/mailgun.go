package verify

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"strconv"
	"time"
)

// Mailgun puts its signature in the body, next to the event, as described
// in https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks
// and implemented by github.com/mailgun/mailgun-go (VerifyWebhookSignature
// for JSON webhooks, VerifyWebhookRequest for form posts).
const (
	// MailgunDefaultTolerance is how old a Mailgun timestamp may be. Mailgun
	// documents no window and warns against an aggressive one, and it retries
	// a failed webhook for 8 hours; whether a retry is signed afresh is not
	// documented. The window therefore spans the whole retry schedule, and
	// replay protection rests on tokens being single-use (see
	// mailgunVerifier.Verify).
	MailgunDefaultTolerance = 8 * time.Hour
	// mailgunMaxFutureSkew bounds how far ahead of our clock a timestamp may
	// be. Mailgun stamps the time it signs, so only clock skew explains a
	// future one.
	mailgunMaxFutureSkew = DefaultTolerance
	// mailgunDedupeMargin is added to the window when asking the receiver to
	// remember a token, covering the one-second resolution of timestamps and
	// the time between verifying and storing.
	mailgunDedupeMargin = time.Minute
	// mailgunMaxField bounds a signature field read from a multipart body.
	// Real values are 10 (timestamp), 50 (token) and 64 (signature) bytes.
	mailgunMaxField = 1 << 10
)

// The names Mailgun uses for the signature fields, in JSON and in forms.
const (
	mailgunTimestampField       = "timestamp"
	mailgunTokenField           = "token"
	mailgunSignatureField       = "signature"
	mailgunParentSignatureField = "parent-signature"
)

type mailgunVerifier struct {
	past, future time.Duration
}

func init() {
	register("mailgun", func(o Options) (Verifier, error) { return NewMailgun(o.Tolerance), nil })
}

// NewMailgun returns a Verifier for Mailgun webhooks: the JSON webhooks
// ({"signature": {...}, "event-data": {...}}) and the form posts of legacy
// webhooks and routes (timestamp, token and signature fields, URL-encoded or
// multipart). Keys are HTTP webhook signing keys as Mailgun shows them, used
// whole and trimmed of surrounding whitespace, which they never contain.
//
// tolerance bounds how old the signed timestamp may be; zero or negative
// means MailgunDefaultTolerance. A timestamp ahead of our clock is accepted
// only within five minutes (or tolerance, if smaller).
func NewMailgun(tolerance time.Duration) Verifier {
	if tolerance <= 0 {
		tolerance = MailgunDefaultTolerance
	}
	return &mailgunVerifier{past: tolerance, future: min(tolerance, mailgunMaxFutureSkew)}
}

// Verify implements Verifier.
//
// Mailgun signs only timestamp+token, not the event: whoever holds one valid
// signature can attach it to any body for as long as the timestamp is in the
// window. Mailgun's answer is that tokens are single-use, so the token is
// the delivery id and Result.DedupeTTL asks the receiver to remember it for
// the whole time the signature could verify (window in the past plus window
// in the future, plus a margin). A second request with the same token is
// then a duplicate whatever its body, and never reaches the target.
func (v *mailgunVerifier) Verify(req *Request, keys [][]byte, now time.Time) (Result, error) {
	if req == nil {
		return Result{}, errNoRequest()
	}
	fields, err := readMailgunSignature(firstHeader(req.Header, "Content-Type"), req.Body)
	if err != nil {
		return Result{}, err
	}
	ms, err := parseMailgunSignature(fields)
	if err != nil {
		return Result{}, err
	}
	usable := trimmedKeys(keys)
	if len(usable) == 0 {
		return Result{}, fail(ReasonNoUsableKey, "no non-empty key configured")
	}
	if !mailgunAnyKeyMatches(usable, ms) {
		return Result{}, fail(ReasonSignatureMismatch, "signature matches none of %d keys", len(usable))
	}
	if age := now.Sub(ms.time); age > v.past {
		return Result{}, fail(ReasonTimestampOutOfRange, "timestamp is %s in the past; tolerance is %s", age.Round(time.Second), v.past)
	}
	if ahead := ms.time.Sub(now); ahead > v.future {
		return Result{}, fail(ReasonTimestampOutOfRange, "timestamp is %s in the future; tolerance is %s", ahead.Round(time.Second), v.future)
	}
	return Result{
		DeliveryID: ms.token,
		Timestamp:  ms.time,
		DedupeTTL:  v.past + v.future + mailgunDedupeMargin,
	}, nil
}

// mailgunFields are the raw signature fields, as found in the body.
type mailgunFields struct {
	timestamp, token, signature, parentSignature string
}

// mailgunSignature is a parsed, well-formed set of signature fields.
type mailgunSignature struct {
	timestamp string
	time      time.Time
	token     string
	// signatures holds "signature" and, for subaccount events, the
	// "parent-signature" made with the primary account's key. Either may
	// match: Mailgun added the parent one so that receivers need only the
	// primary account's key.
	signatures [][]byte
}

// readMailgunSignature finds the signature fields in a body according to
// its media type. Without a usable Content-Type the body is read as JSON if
// it looks like an object and as a URL-encoded form otherwise.
func readMailgunSignature(contentType string, body []byte) (mailgunFields, error) {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		mediaType = ""
		if t := bytes.TrimSpace(body); len(t) > 0 && t[0] == '{' {
			mediaType = "application/json"
		}
	}
	switch mediaType {
	case "application/json":
		return readMailgunJSON(body)
	case "multipart/form-data":
		return readMailgunMultipart(body, params["boundary"])
	default:
		return readMailgunForm(body)
	}
}

// readMailgunJSON reads {"signature": {"timestamp", "token", "signature",
// "parent-signature"}}. The timestamp is a string in Mailgun's payloads; a
// bare JSON number is taken as its literal text, which is the same thing.
func readMailgunJSON(body []byte) (mailgunFields, error) {
	var payload struct {
		Signature *struct {
			Timestamp       json.RawMessage `json:"timestamp"`
			Token           *string         `json:"token"`
			Signature       *string         `json:"signature"`
			ParentSignature *string         `json:"parent-signature"`
		} `json:"signature"`
	}
	if err := json.Unmarshal(body, &payload); err != nil {
		return mailgunFields{}, fail(ReasonMalformedSignature, "body is not a JSON webhook payload")
	}
	s := payload.Signature
	if s == nil || s.Signature == nil {
		return mailgunFields{}, fail(ReasonMissingSignature, "body has no signature.signature")
	}
	f := mailgunFields{signature: *s.Signature}
	if s.Token != nil {
		f.token = *s.Token
	}
	if s.ParentSignature != nil {
		f.parentSignature = *s.ParentSignature
	}
	if len(s.Timestamp) > 0 {
		var text string
		switch {
		case json.Unmarshal(s.Timestamp, &text) == nil:
			f.timestamp = text
		case s.Timestamp[0] >= '0' && s.Timestamp[0] <= '9':
			f.timestamp = string(s.Timestamp)
		default:
			return mailgunFields{}, fail(ReasonMalformedSignature, "signature.timestamp is neither a string nor a number")
		}
	}
	return f, nil
}

// readMailgunForm reads the fields of an application/x-www-form-urlencoded
// body. A field sent twice is refused: which copy counts must not depend on
// who parses the body.
func readMailgunForm(body []byte) (mailgunFields, error) {
	values, err := url.ParseQuery(string(body))
	if err != nil {
		return mailgunFields{}, fail(ReasonMalformedSignature, "body is not a form")
	}
	return mailgunFieldsFrom(func(name string) []string { return values[name] })
}

// readMailgunMultipart reads the fields of a multipart/form-data body, as
// Mailgun routes forward stored messages. Only the three small fields are
// kept; other parts (the message, attachments) are skipped unread.
func readMailgunMultipart(body []byte, boundary string) (mailgunFields, error) {
	if boundary == "" {
		return mailgunFields{}, fail(ReasonMalformedSignature, "multipart body without a boundary")
	}
	values := map[string][]string{}
	r := multipart.NewReader(bytes.NewReader(body), boundary)
	for {
		part, err := r.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return mailgunFields{}, fail(ReasonMalformedSignature, "body is not valid multipart")
		}
		name := part.FormName()
		if part.FileName() != "" || !isMailgunField(name) {
			continue
		}
		v, err := io.ReadAll(io.LimitReader(part, mailgunMaxField+1))
		if err != nil || len(v) > mailgunMaxField {
			return mailgunFields{}, fail(ReasonMalformedSignature, "multipart field %s is unreadable or too long", name)
		}
		values[name] = append(values[name], string(v))
	}
	return mailgunFieldsFrom(func(name string) []string { return values[name] })
}

func isMailgunField(name string) bool {
	switch name {
	case mailgunTimestampField, mailgunTokenField, mailgunSignatureField, mailgunParentSignatureField:
		return true
	}
	return false
}

// mailgunFieldsFrom collects the signature fields from form values.
func mailgunFieldsFrom(get func(string) []string) (mailgunFields, error) {
	var f mailgunFields
	for _, fd := range []struct {
		name string
		dst  *string
	}{
		{mailgunTimestampField, &f.timestamp},
		{mailgunTokenField, &f.token},
		{mailgunSignatureField, &f.signature},
		{mailgunParentSignatureField, &f.parentSignature},
	} {
		vs := get(fd.name)
		if len(vs) > 1 {
			return mailgunFields{}, fail(ReasonMalformedSignature, "field %s appears %d times", fd.name, len(vs))
		}
		if len(vs) == 1 {
			*fd.dst = vs[0]
		}
	}
	if len(get(mailgunSignatureField)) == 0 {
		return mailgunFields{}, fail(ReasonMissingSignature, "body has no %s field", mailgunSignatureField)
	}
	return f, nil
}

// parseMailgunSignature checks the shape of the fields. Errors name the
// field, never its value.
func parseMailgunSignature(f mailgunFields) (mailgunSignature, error) {
	if f.signature == "" {
		return mailgunSignature{}, fail(ReasonMissingSignature, "signature is empty")
	}
	if f.timestamp == "" || f.token == "" {
		return mailgunSignature{}, fail(ReasonMissingSignature, "timestamp or token is missing")
	}
	ts, ok := parseUnixSeconds(f.timestamp)
	if !ok {
		return mailgunSignature{}, fail(ReasonMalformedSignature, "timestamp is not a unix time in seconds")
	}
	ms := mailgunSignature{timestamp: f.timestamp, time: ts, token: f.token}
	for _, s := range []struct{ name, value string }{
		{mailgunSignatureField, f.signature},
		{mailgunParentSignatureField, f.parentSignature},
	} {
		if s.value == "" {
			continue
		}
		sig, err := hex.DecodeString(s.value)
		if err != nil || len(sig) != sha256.Size {
			return mailgunSignature{}, fail(ReasonMalformedSignature, "%s is not a hex HMAC-SHA256", s.name)
		}
		ms.signatures = append(ms.signatures, sig)
	}
	return ms, nil
}

// mailgunAnyKeyMatches checks HMAC-SHA256(key, timestamp+token) against the
// signature and parent signature under every key, in constant time.
func mailgunAnyKeyMatches(keys [][]byte, ms mailgunSignature) bool {
	for _, k := range keys {
		m := hmac.New(sha256.New, k)
		m.Write([]byte(ms.timestamp))
		m.Write([]byte(ms.token))
		sum := m.Sum(nil)
		for _, s := range ms.signatures {
			if hmac.Equal(sum, s) {
				return true
			}
		}
	}
	return false
}

// SignMailgun returns the hex signature Mailgun would send for timestamp
// and token under key (an HTTP webhook signing key).
func SignMailgun(timestamp, token string, key []byte) string {
	m := hmac.New(sha256.New, bytes.TrimSpace(key))
	m.Write([]byte(timestamp))
	m.Write([]byte(token))
	return hex.EncodeToString(m.Sum(nil))
}

// MailgunJSONBody returns a JSON webhook body carrying a signature for
// timestamp and token under key and the given event-data, as Mailgun posts
// it. It is meant for tests in other packages.
func MailgunJSONBody(ts time.Time, token string, eventData any, key []byte) ([]byte, error) {
	timestamp := strconv.FormatInt(ts.Unix(), 10)
	return json.Marshal(map[string]any{
		"signature": map[string]string{
			mailgunTimestampField: timestamp,
			mailgunTokenField:     token,
			mailgunSignatureField: SignMailgun(timestamp, token, key),
		},
		"event-data": eventData,
	})
}
