package v1alpha1

import (
	"fmt"
	"time"
)

// AnnotationArmHandshake arms an endpoint whose provider hands over its
// signing secret in a handshake (Asana's X-Hook-Secret,
// Provider.CapturesHandshakeSecret): the value is an RFC 3339 time at most
// MaxHandshakeArmWindow ahead, until which the receiver accepts one such
// secret. The manager stores the captured secret in the endpoint's Secret
// and removes the annotation.
const AnnotationArmHandshake = "hookgate.io/arm-handshake"

// MaxHandshakeArmWindow is how far ahead an arm may reach: a handshake is
// expected within minutes of creating the provider's webhook.
const MaxHandshakeArmWindow = time.Hour

// Reasons of the handshake secret capture.
const (
	// ReasonHandshakeSecretCaptured: the secret of an armed handshake was
	// stored in the endpoint's Secret and the endpoint disarmed.
	ReasonHandshakeSecretCaptured = "HandshakeSecretCaptured"
	// ReasonHandshakeArmInvalid: the arm annotation is not an RFC 3339
	// time within MaxHandshakeArmWindow of now.
	ReasonHandshakeArmInvalid = "HandshakeArmInvalid"
)

// HandshakeArm reads the arm annotation: its expiry, or an error saying
// what to fix. An annotation that is absent gives the zero time and no
// error.
func HandshakeArm(annotations map[string]string, now time.Time) (time.Time, error) {
	v, ok := annotations[AnnotationArmHandshake]
	if !ok {
		return time.Time{}, nil
	}
	until, err := time.Parse(time.RFC3339, v)
	switch {
	case err != nil:
		return time.Time{}, fmt.Errorf("%s %q is not an RFC 3339 time", AnnotationArmHandshake, v)
	case !until.After(now):
		return time.Time{}, fmt.Errorf("%s %s has passed", AnnotationArmHandshake, v)
	case until.After(now.Add(MaxHandshakeArmWindow)):
		return time.Time{}, fmt.Errorf("%s %s is more than %s ahead", AnnotationArmHandshake, v, MaxHandshakeArmWindow)
	}
	return until, nil
}
