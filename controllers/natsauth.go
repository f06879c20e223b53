package controllers

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// NATSTokenKey is the key of the token in the NATS auth Secret.
const NATSTokenKey = "token"

// EnsureNATSToken returns the NATS token kept in Secret key, creating the
// Secret with 256 random bits when it does not exist. The receiver reads
// the same Secret (the chart and kustomize mount it as an environment
// variable, so its pod waits until the manager has made it). Generating it
// here rather than in a Helm template keeps it stable under `helm template`
// and kustomize, which cannot make random values.
func EnsureNATSToken(ctx context.Context, c client.Client, key types.NamespacedName) (string, error) {
	var s corev1.Secret
	err := c.Get(ctx, key, &s)
	if apierrors.IsNotFound(err) {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return "", fmt.Errorf("generating NATS token: %w", err)
		}
		s = corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name,
				Labels: map[string]string{"app.kubernetes.io/managed-by": "hookgate", "app.kubernetes.io/part-of": "hookgate"}},
			Type: corev1.SecretTypeOpaque,
			Data: map[string][]byte{NATSTokenKey: []byte(base64.RawURLEncoding.EncodeToString(b))},
		}
		err = c.Create(ctx, &s)
		if apierrors.IsAlreadyExists(err) {
			// Another manager replica won the race: use its token.
			err = c.Get(ctx, key, &s)
		}
	}
	if err != nil {
		return "", fmt.Errorf("ensuring NATS auth Secret %s: %w", key, err)
	}
	tok := string(s.Data[NATSTokenKey])
	if tok == "" {
		return "", fmt.Errorf("NATS auth Secret %s has no non-empty key %q", key, NATSTokenKey)
	}
	return tok, nil
}
