// Package keyring is the one reader of a signing key set, shared by the
// manager and the receiver so the two can never disagree about which keys
// are valid.
//
// Two layouts hold a key set. The signing Secret a team names in
// spec.secretRef keeps the current key under <key>, the key being rotated
// out under <key>.previous (hookv1.PreviousKeySuffix) and its expiry in the
// annotation hookv1.AnnotationPreviousKeyExpiresAt. The key mirror, which the
// manager writes into the receiver's namespace for the receiver to read,
// holds the same set under fixed data keys: MirrorCurrent, MirrorPrevious and
// MirrorPreviousExpiresAt.
//
// In both, a previous key is accepted only with a readable expiry in the
// future: an old key without one must not stay valid for ever.
package keyring

import (
	"fmt"
	"time"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

// Data keys of a key mirror Secret.
const (
	MirrorCurrent           = "current"
	MirrorPrevious          = "previous"
	MirrorPreviousExpiresAt = "previous-expires-at"
)

// MirrorPrefix starts the name of every key mirror Secret.
const MirrorPrefix = "hookgate-keys-"

// MirrorName is the name of the key mirror of the endpoint with this UID.
func MirrorName(endpointUID string) string { return MirrorPrefix + endpointUID }

// Keys is a parsed key set.
type Keys struct {
	// Current is the key providers sign with now; empty when missing.
	Current []byte
	// Previous is the key being rotated out, set only while it is accepted.
	Previous []byte
	// PreviousExpires is when Previous stops being accepted; zero without
	// Previous.
	PreviousExpires time.Time
	// PreviousExpired is true when the source holds a previous key whose
	// expiry has passed: it can be removed.
	PreviousExpired bool
	// Problems say, for a person, why a key present in the source is not
	// accepted. Never a key in them.
	Problems []string
}

// Parse reads the key set of a signing Secret (its data and annotations)
// whose current key is under dataKey, as valid at now.
func Parse(data map[string][]byte, annotations map[string]string, dataKey string, now time.Time) Keys {
	prevKey := dataKey + hookv1.PreviousKeySuffix
	at, hasAt := annotations[hookv1.AnnotationPreviousKeyExpiresAt]
	return parse(data[dataKey], data[prevKey], at, hasAt, now,
		fmt.Sprintf("key %q", prevKey), fmt.Sprintf("annotation %s", hookv1.AnnotationPreviousKeyExpiresAt))
}

// ParseMirror reads the key set of a key mirror Secret, as valid at now.
func ParseMirror(data map[string][]byte, now time.Time) Keys {
	at, hasAt := data[MirrorPreviousExpiresAt]
	return parse(data[MirrorCurrent], data[MirrorPrevious], string(at), hasAt, now,
		fmt.Sprintf("key %q", MirrorPrevious), fmt.Sprintf("key %q", MirrorPreviousExpiresAt))
}

func parse(current, previous []byte, expiresAt string, hasExpiresAt bool, now time.Time, prevName, atName string) Keys {
	k := Keys{Current: current}
	if len(previous) == 0 {
		return k
	}
	switch t, err := time.Parse(time.RFC3339, expiresAt); {
	case !hasExpiresAt || expiresAt == "":
		k.Problems = append(k.Problems, fmt.Sprintf("%s is ignored: it has no %s saying until when it is valid", prevName, atName))
	case err != nil:
		k.Problems = append(k.Problems, fmt.Sprintf("%s is ignored: %s %q is not an RFC 3339 time", prevName, atName, expiresAt))
	case !now.Before(t):
		k.PreviousExpired = true
	default:
		k.Previous, k.PreviousExpires = previous, t
	}
	return k
}

// MirrorData is the key set in the key mirror's layout. Only what is
// accepted is written: an ignored or expired previous key is left out.
func (k Keys) MirrorData() map[string][]byte {
	d := map[string][]byte{MirrorCurrent: k.Current}
	if len(k.Previous) > 0 {
		d[MirrorPrevious] = k.Previous
		d[MirrorPreviousExpiresAt] = []byte(k.PreviousExpires.UTC().Format(time.RFC3339))
	}
	return d
}
