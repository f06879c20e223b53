package keyring

import (
	"strings"
	"testing"
	"time"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

var now = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func TestParse(t *testing.T) {
	inAnHour := now.Add(time.Hour).Format(time.RFC3339)
	anHourAgo := now.Add(-time.Hour).Format(time.RFC3339)
	for _, tc := range []struct {
		name        string
		data        map[string][]byte
		annotations map[string]string
		key         string
		want        Keys
		problem     string
	}{
		{
			name: "a Secret with only a current key has no previous key",
			data: map[string][]byte{"secret": []byte("cur")},
			key:  "secret",
			want: Keys{Current: []byte("cur")},
		},
		{
			name: "a missing current key is empty, not an error",
			data: map[string][]byte{"other": []byte("x")},
			key:  "secret",
			want: Keys{},
		},
		{
			name:        "a previous key with a future expiry is accepted until then",
			data:        map[string][]byte{"secret": []byte("cur"), "secret.previous": []byte("old")},
			annotations: map[string]string{hookv1.AnnotationPreviousKeyExpiresAt: inAnHour},
			key:         "secret",
			want:        Keys{Current: []byte("cur"), Previous: []byte("old"), PreviousExpires: now.Add(time.Hour)},
		},
		{
			name:        "a previous key whose expiry has passed is not accepted and can be removed",
			data:        map[string][]byte{"secret": []byte("cur"), "secret.previous": []byte("old")},
			annotations: map[string]string{hookv1.AnnotationPreviousKeyExpiresAt: anHourAgo},
			key:         "secret",
			want:        Keys{Current: []byte("cur"), PreviousExpired: true},
		},
		{
			name:        "a previous key expiring exactly now is no longer accepted",
			data:        map[string][]byte{"secret": []byte("cur"), "secret.previous": []byte("old")},
			annotations: map[string]string{hookv1.AnnotationPreviousKeyExpiresAt: now.Format(time.RFC3339)},
			key:         "secret",
			want:        Keys{Current: []byte("cur"), PreviousExpired: true},
		},
		{
			name:    "a previous key without an expiry is not accepted, and the problem says why",
			data:    map[string][]byte{"secret": []byte("cur"), "secret.previous": []byte("old")},
			key:     "secret",
			want:    Keys{Current: []byte("cur")},
			problem: `key "secret.previous" is ignored: it has no annotation hookgate.io/previous-key-expires-at`,
		},
		{
			name:        "a previous key with an empty expiry is not accepted",
			data:        map[string][]byte{"secret": []byte("cur"), "secret.previous": []byte("old")},
			annotations: map[string]string{hookv1.AnnotationPreviousKeyExpiresAt: ""},
			key:         "secret",
			want:        Keys{Current: []byte("cur")},
			problem:     "has no annotation",
		},
		{
			name:        "a previous key with an unparsable expiry is not accepted, and the problem quotes the value",
			data:        map[string][]byte{"secret": []byte("cur"), "secret.previous": []byte("old")},
			annotations: map[string]string{hookv1.AnnotationPreviousKeyExpiresAt: "tomorrow"},
			key:         "secret",
			want:        Keys{Current: []byte("cur")},
			problem:     `"tomorrow" is not an RFC 3339 time`,
		},
		{
			name:        "an expiry without a previous key is harmless",
			data:        map[string][]byte{"secret": []byte("cur")},
			annotations: map[string]string{hookv1.AnnotationPreviousKeyExpiresAt: "garbage"},
			key:         "secret",
			want:        Keys{Current: []byte("cur")},
		},
		{
			name:        "the previous key follows the referenced key's name",
			data:        map[string][]byte{"token": []byte("cur"), "token.previous": []byte("old"), "secret.previous": []byte("wrong")},
			annotations: map[string]string{hookv1.AnnotationPreviousKeyExpiresAt: inAnHour},
			key:         "token",
			want:        Keys{Current: []byte("cur"), Previous: []byte("old"), PreviousExpires: now.Add(time.Hour)},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Parse(tc.data, tc.annotations, tc.key, now)
			checkKeys(t, got, tc.want, tc.problem)
		})
	}
}

func TestParseMirror(t *testing.T) {
	for _, tc := range []struct {
		name    string
		data    map[string][]byte
		want    Keys
		problem string
	}{
		{
			name: "a mirror with a current and an unexpired previous key gives both",
			data: map[string][]byte{MirrorCurrent: []byte("cur"), MirrorPrevious: []byte("old"),
				MirrorPreviousExpiresAt: []byte(now.Add(time.Minute).Format(time.RFC3339))},
			want: Keys{Current: []byte("cur"), Previous: []byte("old"), PreviousExpires: now.Add(time.Minute)},
		},
		{
			name: "a mirror whose previous key has expired gives only the current key",
			data: map[string][]byte{MirrorCurrent: []byte("cur"), MirrorPrevious: []byte("old"),
				MirrorPreviousExpiresAt: []byte(now.Add(-time.Minute).Format(time.RFC3339))},
			want: Keys{Current: []byte("cur"), PreviousExpired: true},
		},
		{
			name:    "a mirror's previous key without an expiry is not accepted",
			data:    map[string][]byte{MirrorCurrent: []byte("cur"), MirrorPrevious: []byte("old")},
			want:    Keys{Current: []byte("cur")},
			problem: `key "previous" is ignored`,
		},
		{
			name: "a mirror's previous key with an unparsable expiry is not accepted",
			data: map[string][]byte{MirrorCurrent: []byte("cur"), MirrorPrevious: []byte("old"),
				MirrorPreviousExpiresAt: []byte("soon")},
			want:    Keys{Current: []byte("cur")},
			problem: `"soon" is not an RFC 3339 time`,
		},
		{
			name: "an empty mirror has no keys",
			data: map[string][]byte{},
			want: Keys{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkKeys(t, ParseMirror(tc.data, now), tc.want, tc.problem)
		})
	}
}

func TestMirrorDataRoundTripsThroughParseMirror(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   Keys
		keys []string
	}{
		{
			name: "a current key alone is written alone",
			in:   Keys{Current: []byte("cur")},
			keys: []string{MirrorCurrent},
		},
		{
			name: "an accepted previous key is written with its expiry",
			in:   Keys{Current: []byte("cur"), Previous: []byte("old"), PreviousExpires: now.Add(time.Hour)},
			keys: []string{MirrorCurrent, MirrorPrevious, MirrorPreviousExpiresAt},
		},
		{
			name: "an expired or ignored previous key is not written, and problems never are",
			in:   Keys{Current: []byte("cur"), PreviousExpired: true, Problems: []string{"x"}},
			keys: []string{MirrorCurrent},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.in.MirrorData()
			if len(d) != len(tc.keys) {
				t.Fatalf("mirror has keys %v, want %v", keysOf(d), tc.keys)
			}
			for _, k := range tc.keys {
				if _, ok := d[k]; !ok {
					t.Fatalf("mirror has keys %v, want %v", keysOf(d), tc.keys)
				}
			}
			want := tc.in
			want.Problems, want.PreviousExpired = nil, false
			checkKeys(t, ParseMirror(d, now), want, "")
		})
	}
}

// A source Secret and its mirror must give the same keys: the manager
// reads one, the receiver the other.
func TestASecretAndItsMirrorGiveTheSameKeys(t *testing.T) {
	for _, at := range []string{"", "never", now.Add(-time.Second).Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339)} {
		ann := map[string]string{}
		if at != "" {
			ann[hookv1.AnnotationPreviousKeyExpiresAt] = at
		}
		src := Parse(map[string][]byte{"secret": []byte("cur"), "secret.previous": []byte("old")}, ann, "secret", now)
		m := ParseMirror(src.MirrorData(), now)
		if string(m.Current) != string(src.Current) || string(m.Previous) != string(src.Previous) || !m.PreviousExpires.Equal(src.PreviousExpires) {
			t.Errorf("expiry %q: Secret gives %+v, its mirror %+v", at, src, m)
		}
	}
}

func TestMirrorNameIsPrefixedEndpointUID(t *testing.T) {
	if got := MirrorName("0b1c"); got != "hookgate-keys-0b1c" {
		t.Fatalf("MirrorName = %q", got)
	}
}

func checkKeys(t *testing.T, got, want Keys, problem string) {
	t.Helper()
	if string(got.Current) != string(want.Current) || string(got.Previous) != string(want.Previous) ||
		!got.PreviousExpires.Equal(want.PreviousExpires) || got.PreviousExpired != want.PreviousExpired {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if (got.Previous == nil) != (want.Previous == nil) {
		t.Fatalf("previous key: got %q, want %q", got.Previous, want.Previous)
	}
	switch {
	case problem == "" && len(got.Problems) > 0:
		t.Fatalf("unexpected problems: %q", got.Problems)
	case problem != "" && (len(got.Problems) != 1 || !strings.Contains(got.Problems[0], problem)):
		t.Fatalf("problems %q, want one containing %q", got.Problems, problem)
	}
	for _, p := range got.Problems {
		if strings.Contains(p, "old") || strings.Contains(p, "cur") {
			t.Fatalf("a key leaked into a problem: %q", p)
		}
	}
}

func keysOf(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
