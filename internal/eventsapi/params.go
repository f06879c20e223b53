package eventsapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	eventsv1 "github.com/hookgate/hookgate/api/events/v1alpha1"
	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

// Bounds of the free-text parameters.
const (
	maxIDBytes       = 256
	maxDeliveryBytes = 256
	maxTextBytes     = 1024
	maxContinueBytes = 4096
)

// oneOf returns the value of list that s names, case-insensitively.
func oneOf[T ~string](param, s string, list []T) (T, error) {
	if v, ok := eventsv1.Named(s, list); ok {
		return v, nil
	}
	names := make([]string, len(list))
	for i, v := range list {
		names[i] = string(v)
	}
	return "", fmt.Errorf("invalid value %q for parameter %s: want one of %s", s, param, strings.Join(names, ", "))
}

// parseQuery reads a list's or watch's URL parameters.
func parseQuery(v url.Values, now time.Time) (q eventsv1.Query, watch bool, err error) {
	for _, p := range []string{eventsv1.ParamOutcome, eventsv1.ParamStatus, eventsv1.ParamSince, eventsv1.ParamUntil,
		eventsv1.ParamDelivery, eventsv1.ParamType, eventsv1.ParamText, eventsv1.ParamLimit,
		eventsv1.ParamContinue, eventsv1.ParamWatch} {
		if len(v[p]) > 1 {
			return q, false, fmt.Errorf("parameter %s is given %d times: give it once", p, len(v[p]))
		}
	}
	if s := v.Get(eventsv1.ParamWatch); s != "" {
		if watch, err = strconv.ParseBool(s); err != nil {
			return q, false, fmt.Errorf("invalid value %q for parameter %s: want true or false", s, eventsv1.ParamWatch)
		}
	}
	if s := v.Get(eventsv1.ParamOutcome); s != "" {
		if q.Outcome, err = oneOf(eventsv1.ParamOutcome, s, eventsv1.Outcomes); err != nil {
			return q, false, err
		}
	}
	if s := v.Get(eventsv1.ParamStatus); s != "" {
		if watch {
			return q, false, fmt.Errorf("parameter %s cannot be used with %s=true: a watch shows each attempt as it happens", eventsv1.ParamStatus, eventsv1.ParamWatch)
		}
		if q.Status, err = oneOf(eventsv1.ParamStatus, s, eventsv1.QueryStatuses); err != nil {
			return q, false, err
		}
	}
	if q.Since, err = parseTime(eventsv1.ParamSince, v.Get(eventsv1.ParamSince), now); err != nil {
		return q, false, err
	}
	if q.Until, err = parseTime(eventsv1.ParamUntil, v.Get(eventsv1.ParamUntil), now); err != nil {
		return q, false, err
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
		return q, false, fmt.Errorf("parameter %s (%s) must be before %s (%s)", eventsv1.ParamSince,
			q.Since.Format(time.RFC3339Nano), eventsv1.ParamUntil, q.Until.Format(time.RFC3339Nano))
	}
	if q.DeliveryID, err = text(eventsv1.ParamDelivery, v.Get(eventsv1.ParamDelivery), maxDeliveryBytes); err != nil {
		return q, false, err
	}
	if q.Type, err = text(eventsv1.ParamType, v.Get(eventsv1.ParamType), hookv1.MaxEventTypeLength); err != nil {
		return q, false, err
	}
	if q.Text, err = text(eventsv1.ParamText, v.Get(eventsv1.ParamText), maxTextBytes); err != nil {
		return q, false, err
	}
	if q.Continue, err = text(eventsv1.ParamContinue, v.Get(eventsv1.ParamContinue), maxContinueBytes); err != nil {
		return q, false, err
	}
	q.Limit = eventsv1.DefaultLimit
	if s := v.Get(eventsv1.ParamLimit); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > eventsv1.MaxLimit {
			return q, false, fmt.Errorf("invalid value %q for parameter %s: want a number from 1 to %d", s, eventsv1.ParamLimit, eventsv1.MaxLimit)
		}
		q.Limit = n
	}
	return q, watch, nil
}

// parseTime reads an RFC 3339 time, or a duration meaning that long before
// now; zero for "".
func parseTime(param, s string, now time.Time) (time.Time, error) {
	if t, ok := eventsv1.ParseTime(s, now); ok {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("invalid value %q for parameter %s: want an RFC 3339 time (2006-01-02T15:04:05Z) or a duration before now (90m)", s, param)
}

// text checks a free-text parameter: UTF-8, no control characters, at
// most max bytes.
func text(param, s string, max int) (string, error) {
	switch {
	case len(s) > max:
		return "", fmt.Errorf("parameter %s is too long: %d bytes, at most %d", param, len(s), max)
	case !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "", fmt.Errorf("parameter %s must be UTF-8 text without control characters", param)
	}
	return s, nil
}

// checkEventID checks the id of a GET: one history record's.
func checkEventID(id string) error {
	_, err := text("id", id, maxIDBytes)
	return err
}

// checkRetryID checks an id to retry: it is matched against the queue's
// event ids, which are single NATS subject tokens, so a dot or wildcard
// cannot be one and would only hint at patterns that are not supported.
func checkRetryID(id string) error {
	switch {
	case id == "":
		return errors.New("an id is empty")
	case len(id) > maxIDBytes:
		return fmt.Errorf("%.32q... is too long: at most %d bytes", id, maxIDBytes)
	case strings.ContainsAny(id, ".*>/\\") || strings.IndexFunc(id, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 || !utf8.ValidString(id):
		return fmt.Errorf("%q is not an event id: ids have no dots, wildcards (* >), slashes or spaces, and patterns are not supported (use replay to select by time, type or text)", id)
	}
	return nil
}

// errTooLarge is decodeBody's error for a body over MaxRequestBytes.
var errTooLarge = fmt.Errorf("the request body is larger than %d bytes", MaxRequestBytes)

// decodeBody reads the request's one JSON value into v, strictly: an
// unknown field is an error (a misspelt filter must not replay more).
func decodeBody(w http.ResponseWriter, r *http.Request, v any, what string) error {
	body := http.MaxBytesReader(w, r.Body, MaxRequestBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		// One value, and nothing but space after it.
		if _, err2 := dec.Token(); err2 != io.EOF {
			err = errors.New("data after the JSON value")
		}
	}
	var mbe *http.MaxBytesError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &mbe):
		return errTooLarge
	case errors.Is(err, io.EOF):
		return fmt.Errorf("request body: empty: want a JSON %s", what)
	default:
		return fmt.Errorf("request body: not a valid %s: %v", what, err)
	}
}
