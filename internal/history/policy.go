package history

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

// RedactedValue replaces a redacted header value or body field.
const RedactedValue = "[REDACTED]"

// Policy is what the history keeps of one endpoint: spec.history with its
// defaults filled in (PolicyFor). A Policy is read-only once in use; a
// nil Policy records nothing.
type Policy struct {
	// Disabled records nothing.
	Disabled bool
	// Retention is each record's TTL (at least a second; 0 takes
	// hookv1.DefaultHistoryRetention).
	Retention time.Duration
	// MaxEvents is how many requests Trim keeps (the caller's loop reads it).
	MaxEvents int64
	// OmitBody keeps no body of an accepted event.
	OmitBody bool
	// MaxBodyBytes is the most of a body kept, after redaction: 0 keeps
	// none, a negative value has no limit. PolicyFor sets the default.
	MaxBodyBytes int
	// RedactHeaders are header names (any case) whose values are replaced.
	RedactHeaders []string
	// RedactFields are dot paths into a JSON body, or form keys.
	RedactFields []string

	// Precomputed by PolicyFor; computed on the fly for a Policy made
	// otherwise.
	ttl   []string
	paths [][]string
}

// PolicyFor returns the policy of an endpoint's spec.history, with the
// defaults of its GetX helpers.
func PolicyFor(h hookv1.HistorySpec) *Policy {
	p := &Policy{
		Disabled:      h.Disabled,
		Retention:     h.GetRetention(),
		MaxEvents:     h.GetMaxEvents(),
		OmitBody:      !h.KeepsBody(),
		MaxBodyBytes:  h.GetMaxBodyBytes(),
		RedactHeaders: slices.Clone(h.RedactHeaders),
		RedactFields:  slices.Clone(h.RedactFields),
	}
	p.ttl = []string{p.ttlValue()}
	p.paths = splitPaths(p.RedactFields)
	return p
}

// ttlValue is the Nats-TTL header of the policy's records, in seconds.
func (p *Policy) ttlValue() string {
	d := p.Retention
	if d <= 0 {
		d = hookv1.DefaultHistoryRetention
	}
	return strconv.FormatInt(max(int64(d/time.Second), 1), 10)
}

// ttlHeader returns the Nats-TTL header's values (shared, never modified).
func (p *Policy) ttlHeader() []string {
	if p.ttl != nil {
		return p.ttl
	}
	return []string{p.ttlValue()}
}

func splitPaths(fields []string) [][]string {
	var out [][]string
	for _, f := range fields {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, strings.Split(f, "."))
		}
	}
	return out
}

func (p *Policy) fieldPaths() [][]string {
	if p.paths != nil || len(p.RedactFields) == 0 {
		return p.paths
	}
	return splitPaths(p.RedactFields)
}

// Redact returns what is stored of an accepted event's headers and body;
// it never modifies its inputs, but what it returns may share storage with
// them (a header map or body left as it was is returned as is).
//
// Headers named in RedactHeaders (any case) get the value
// [RedactedValue]. With OmitBody the body is nil and omitted is true.
// RedactFields apply to a JSON body as dot paths (a.b.c; a path goes
// through arrays element-wise, "*" matches any key), whose values become
// the string [RedactedValue] (the body is then re-encoded: valid JSON, key
// order may change); to an application/x-www-form-urlencoded body (by its
// Content-Type, or one that parses as a form) as form keys (the first
// segment of each path; "*" matches every key). Any other body, while
// RedactFields is not empty, is omitted. Last, the body is truncated to
// MaxBodyBytes (truncated is true).
//
// redacted names each header (as spelled in h, sorted) and then each
// field path of RedactFields (as written, in its order; a form key for a
// form) that was present and redacted.
func (p *Policy) Redact(h map[string][]string, body []byte) (hdr map[string][]string, b []byte, redacted []string, omitted, truncated bool) {
	hdr, redacted = p.redactHeaders(h)
	if p.OmitBody {
		return hdr, nil, redacted, true, false
	}
	b = body
	if paths := p.fieldPaths(); len(paths) > 0 && len(body) > 0 {
		var fields []string
		var ok bool
		b, fields, ok = redactBody(h, body, paths)
		if !ok {
			return hdr, nil, redacted, true, false
		}
		redacted = append(redacted, fields...)
	}
	if p.MaxBodyBytes >= 0 && len(b) > p.MaxBodyBytes {
		b, truncated = b[:p.MaxBodyBytes:p.MaxBodyBytes], true
	}
	return hdr, b, redacted, false, truncated
}

func (p *Policy) redactHeaders(h map[string][]string) (map[string][]string, []string) {
	if len(p.RedactHeaders) == 0 || len(h) == 0 {
		return h, nil
	}
	var names []string
	for k := range h {
		if p.redactsHeader(k) {
			names = append(names, k)
		}
	}
	if len(names) == 0 {
		return h, nil
	}
	slices.Sort(names)
	out := make(map[string][]string, len(h))
	for k, v := range h {
		out[k] = v
	}
	for _, k := range names {
		out[k] = []string{RedactedValue}
	}
	return out, names
}

func (p *Policy) redactsHeader(name string) bool {
	for _, r := range p.RedactHeaders {
		if strings.EqualFold(strings.TrimSpace(r), name) {
			return true
		}
	}
	return false
}

// redactBody redacts the fields of a JSON or form body; ok is false for a
// body that is neither.
func redactBody(h map[string][]string, body []byte, paths [][]string) (b []byte, redacted []string, ok bool) {
	// JSON first, whatever the type says: a form is never valid JSON, and
	// a JSON body sent as a "form" must not escape its redaction.
	if b, redacted, ok = redactJSON(body, paths); ok {
		return b, redacted, true
	}
	switch ct := contentType(h); {
	case ct == "application/x-www-form-urlencoded":
		return redactForm(body, paths)
	case (ct == "" || ct == "text/plain" || ct == "application/octet-stream") && looksLikeForm(body):
		// Without a type, or a vague one, it may still be a form.
		return redactForm(body, paths)
	}
	return nil, nil, false
}

func contentType(h map[string][]string) string {
	for k, v := range h {
		if strings.EqualFold(k, "Content-Type") && len(v) > 0 {
			mt, _, err := mime.ParseMediaType(v[0])
			if err != nil {
				return strings.ToLower(strings.TrimSpace(v[0]))
			}
			return mt
		}
	}
	return ""
}

func redactJSON(body []byte, paths [][]string) ([]byte, []string, bool) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || !json.Valid(trimmed) {
		return nil, nil, false
	}
	if trimmed[0] != '{' && trimmed[0] != '[' {
		// A scalar has no fields: kept as it is.
		return body, nil, true
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, nil, false
	}
	var redacted []string
	for _, path := range paths {
		if redactPath(v, path) {
			redacted = appendOnce(redacted, strings.Join(path, "."))
		}
	}
	if len(redacted) == 0 {
		return body, nil, true
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, nil, false
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), redacted, true
}

func appendOnce(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// redactPath replaces the values at path in v and reports whether any was there.
func redactPath(v any, path []string) bool {
	switch x := v.(type) {
	case []any:
		found := false
		for _, e := range x {
			if redactPath(e, path) {
				found = true
			}
		}
		return found
	case map[string]any:
		if len(path) == 0 {
			return false
		}
		seg, rest := path[0], path[1:]
		found := false
		visit := func(k string) {
			if len(rest) == 0 {
				x[k] = RedactedValue
				found = true
				return
			}
			if redactPath(x[k], rest) {
				found = true
			}
		}
		if seg == "*" {
			for k := range x {
				visit(k)
			}
		} else if _, ok := x[seg]; ok {
			visit(seg)
		}
		return found
	}
	return false
}

// looksLikeForm reports whether a body without a form Content-Type is
// still a form: key=value pairs joined by '&', no white space, every key
// present, and it parses.
func looksLikeForm(body []byte) bool {
	if len(body) == 0 || bytes.ContainsAny(body, " \t\r\n{}[]<>\"") {
		return false
	}
	for pair := range bytes.SplitSeq(body, []byte("&")) {
		k, _, ok := bytes.Cut(pair, []byte("="))
		if !ok || len(k) == 0 {
			return false
		}
	}
	_, err := url.ParseQuery(string(body))
	return err == nil
}

func redactForm(body []byte, paths [][]string) ([]byte, []string, bool) {
	if _, err := url.ParseQuery(string(body)); err != nil {
		return nil, nil, false
	}
	keys := make([]string, 0, len(paths))
	all := false
	for _, p := range paths {
		if p[0] == "*" {
			all = true
		}
		keys = append(keys, p[0])
	}
	var out []byte
	var redacted []string
	changed := false
	for i, pair := range strings.Split(string(body), "&") {
		rawKey, _, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			key = rawKey
		}
		if i > 0 {
			out = append(out, '&')
		}
		if pair != "" && (all || slices.Contains(keys, key)) {
			out = append(out, rawKey...)
			out = append(out, '=')
			out = append(out, url.QueryEscape(RedactedValue)...)
			redacted = appendOnce(redacted, key)
			changed = true
			continue
		}
		out = append(out, pair...)
	}
	if !changed {
		return body, nil, true
	}
	return out, redacted, true
}
