package dispatch

import (
	"net/http"
	"testing"
	"time"

	"github.com/hookgate/hookgate/ingress/registry"
)

func TestBackoff(t *testing.T) {
	const initial, max = 100 * time.Millisecond, time.Second
	cases := []struct {
		name     string
		attempt  int
		initial  time.Duration
		wantCeil time.Duration
	}{
		{"the first retry waits around the initial delay", 1, initial, 100 * time.Millisecond},
		{"the second retry doubles the ceiling", 2, initial, 200 * time.Millisecond},
		{"the third retry doubles it again", 3, initial, 400 * time.Millisecond},
		{"the fourth retry is still below the maximum", 4, initial, 800 * time.Millisecond},
		{"the fifth retry is capped at the maximum", 5, initial, max},
		{"a late retry stays capped at the maximum", 50, initial, max},
		{"an initial delay above the maximum is capped at the maximum", 1, 5 * time.Second, max},
	}
	rnds := []struct {
		name string
		v    float64
	}{{"lowest", 0}, {"middle", 0.5}, {"highest", 0.999999}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, r := range rnds {
				got := Backoff(tc.attempt, tc.initial, max, func() float64 { return r.v })
				if got < tc.wantCeil/2 || got >= tc.wantCeil {
					t.Errorf("%s jitter: Backoff(%d) = %s, want within [%s, %s)", r.name, tc.attempt, got, tc.wantCeil/2, tc.wantCeil)
				}
			}
			if got, want := Backoff(tc.attempt, tc.initial, max, func() float64 { return 0.5 }), tc.wantCeil*3/4; got != want {
				t.Errorf("Backoff(%d) with jitter 0.5 = %s, want %s", tc.attempt, got, want)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	cases := []struct {
		name  string
		value string
		want  time.Duration
	}{
		{"delay seconds are read as seconds", "120", 2 * time.Minute},
		{"surrounding spaces are ignored", " 3 ", 3 * time.Second},
		{"an absent header means no delay", "", 0},
		{"zero means no delay", "0", 0},
		{"a negative number means no delay", "-5", 0},
		{"a fraction is garbage", "1.5", 0},
		{"garbage means no delay", "soon", 0},
		{"a delay above an hour is capped at an hour", "86400", time.Hour},
		{"an HTTP date in the future is the time until then", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{"an HTTP date in the past means no delay", now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"an HTTP date more than an hour ahead is capped at an hour", now.Add(3 * time.Hour).Format(http.TimeFormat), time.Hour},
		{"an RFC 850 date is accepted as HTTP allows", now.Add(10 * time.Second).Format(time.RFC850), 10 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ParseRetryAfter(tc.value, now); got != tc.want {
				t.Fatalf("ParseRetryAfter(%q) = %s, want %s", tc.value, got, tc.want)
			}
		})
	}
}

func TestRetryAfterFailure(t *testing.T) {
	ep := &registry.Target{RetryFor: time.Hour, BackoffInitial: time.Second, BackoffMax: 10 * time.Minute}
	half := func() float64 { return 0.5 }
	cases := []struct {
		name       string
		maxAtt     int
		attempt    int
		age, after time.Duration
		delay      time.Duration
		last       bool
	}{
		{name: "first failure backs off", attempt: 1, age: time.Second, delay: 750 * time.Millisecond},
		{name: "backoff is capped", attempt: 30, age: time.Minute, delay: 7*time.Minute + 30*time.Second},
		{name: "the target's Retry-After wins", attempt: 1, age: time.Second, after: 2 * time.Minute, delay: 2 * time.Minute},
		{name: "the final retry lands at the end of the span", attempt: 30, age: 58 * time.Minute, delay: 2 * time.Minute},
		{name: "past the span the attempt was the last", attempt: 30, age: time.Hour, last: true},
		{name: "maxAttempts ends it sooner", maxAtt: 3, attempt: 3, age: time.Minute, last: true},
		{name: "below maxAttempts it goes on", maxAtt: 3, attempt: 2, age: time.Minute, delay: 1500 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := *ep
			e.MaxAttempts = tc.maxAtt
			delay, last := retryAfterFailure(&e, tc.attempt, tc.age, tc.after, half)
			if delay != tc.delay || last != tc.last {
				t.Errorf("retryAfterFailure = (%s, %t), want (%s, %t)", delay, last, tc.delay, tc.last)
			}
		})
	}
}
