package v1alpha1

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxEventTypeLength bounds an event type in bytes. A longer value, or one
// with a control character or that is not UTF-8, is no event type: it is
// refused rather than cut, since a cut type is one the provider never sent.
const MaxEventTypeLength = 256

// EventTypeOf is the type of the event the request carries, as the
// provider names it (EventTypeInfo.Of), or else the provider's name: the
// ce-type of the CloudEvent the delivery becomes and what event-type filters
// match.
func (i ProviderInfo) EventTypeOf(h http.Header, body []byte) string {
	if t := i.EventType.Of(h, body); t != "" {
		return t
	}
	return string(i.Name)
}

// Of returns the event type the request names: the header's value if the
// header is set and valid, else the JSON field's, else, for a form-encoded
// body, the form field's; "" when none names one. The body is read only as
// far as the path needs; a body that is not JSON (or not a form), or lacks
// the field, or holds no string there, names none.
func (e EventTypeInfo) Of(h http.Header, body []byte) string {
	if e.Header != "" {
		if t := validEventType(h.Get(e.Header)); t != "" {
			return t
		}
	}
	if e.JSONField != "" {
		if t := validEventType(jsonStringAt(body, e.JSONField)); t != "" {
			return t
		}
	}
	if e.FormField != "" && isForm(h) {
		return validEventType(formValue(body, e.FormField))
	}
	return ""
}

func validEventType(s string) string {
	if len(s) > MaxEventTypeLength || !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return ""
	}
	return s
}

// jsonStringAt walks the body's tokens down path (dots between object keys)
// and returns the string found there, skipping sibling values without
// decoding them. Of duplicate keys the first counts. json.Valid first, so
// that a body cut short after the field names nothing either.
func jsonStringAt(body []byte, path string) string {
	if !json.Valid(body) {
		return ""
	}
	d := json.NewDecoder(bytes.NewReader(body))
	for _, key := range strings.Split(path, ".") {
		if t, err := d.Token(); err != nil || t != json.Delim('{') {
			return ""
		}
		for {
			if !d.More() {
				return ""
			}
			k, err := d.Token()
			if err != nil {
				return ""
			}
			if k == key {
				break
			}
			if skipJSONValue(d) != nil {
				return ""
			}
		}
	}
	t, err := d.Token()
	if s, ok := t.(string); ok && err == nil {
		return s
	}
	return ""
}

// skipJSONValue consumes one value, an object or array whole.
func skipJSONValue(d *json.Decoder) error {
	depth := 0
	for {
		t, err := d.Token()
		if err != nil {
			return err
		}
		switch t {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}

func isForm(h http.Header) bool {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	return err == nil && mt == "application/x-www-form-urlencoded"
}

// formValue returns the first value of key in a URL-encoded body, unescaping
// only the pairs it needs to look at.
func formValue(body []byte, key string) string {
	for rest := body; len(rest) > 0; {
		var pair []byte
		pair, rest, _ = bytes.Cut(rest, []byte("&"))
		k, v, _ := bytes.Cut(pair, []byte("="))
		if uk, err := url.QueryUnescape(string(k)); err != nil || uk != key {
			continue
		}
		uv, err := url.QueryUnescape(string(v))
		if err != nil {
			return ""
		}
		return uv
	}
	return ""
}
