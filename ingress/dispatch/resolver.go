package dispatch

import (
	"context"
	"fmt"
	"net"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hookgate/hookgate/ingress/registry"
)

// ServiceResolver addresses a target Service by its cluster DNS name, or by
// spec.externalName for an ExternalName Service (which is also how local
// runs reach a target on the host: the API server refuses loopback
// addresses in Endpoints, not in ExternalName).
type ServiceResolver struct {
	Client client.Reader
	// ClusterDomain is the cluster's DNS suffix. Defaults to cluster.local.
	ClusterDomain string
	// AllowExternalName delivers to ExternalName Services. They can name
	// any host, inside the cluster or not, so a tenant could aim the
	// receiver anywhere it can reach: off unless asked for.
	AllowExternalName bool
}

// ServiceCache is how the receiver's cache should hold Services: handed
// out without a deep copy. Resolve runs before every delivery attempt and
// only reads the Service, and copying it was about 5 % of the receiver's
// CPU while draining a backlog.
var ServiceCache = cache.ByObject{UnsafeDisableDeepCopy: ptr.To(true)}

// Resolve returns http://host:port for the target. The Service it reads
// may be the cache's own object (ServiceCache): it never writes to it.
func (r *ServiceResolver) Resolve(ctx context.Context, namespace string, t registry.Target) (string, error) {
	var svc corev1.Service
	key := types.NamespacedName{Namespace: namespace, Name: t.Service}
	if err := r.Client.Get(ctx, key, &svc); err != nil {
		return "", fmt.Errorf("reading Service %s: %w", key, err)
	}
	port := strconv.Itoa(int(t.Port))
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		if !r.AllowExternalName {
			return "", fmt.Errorf("Service %s is an ExternalName Service, which this receiver does not deliver to (--allow-external-name-targets=false)", key)
		}
		return "http://" + net.JoinHostPort(svc.Spec.ExternalName, port), nil
	}
	domain := r.ClusterDomain
	if domain == "" {
		domain = "cluster.local"
	}
	return "http://" + net.JoinHostPort(fmt.Sprintf("%s.%s.svc.%s", t.Service, namespace, domain), port), nil
}
