package e2e

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The chart's RBAC, applied to the real API server in BeforeSuite, is what
// the processes run with: ask it what the receiver may read.
var _ = Describe("Signing keys under the chart's RBAC", func() {
	It("lets the receiver read Secrets only in the release namespace, where the manager mirrors the keys", func() {
		_, objs := renderChart()
		rcvSA, rcvArgs := podSpecOf(findObject(objs, "StatefulSet", releaseName+"-receiver"))
		mgrSA, mgrArgs := podSpecOf(findObject(objs, "Deployment", releaseName+"-manager"))
		Expect(rcvArgs).To(ContainElement("--keys-namespace="+releaseNamespace), "the receiver must know where its keys are")
		Expect(mgrArgs).To(ContainElement("--receiver-namespace="+releaseNamespace), "the manager must write them there")
		findObject(objs, "Role", releaseName+"-receiver-keys")
		findObject(objs, "RoleBinding", releaseName+"-receiver-keys")

		team := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "e2e-keys-"}}
		Expect(k8s.Create(ctxT(), team)).To(Succeed())
		can := func(sa, verb, namespace string) bool {
			sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
				User:               "system:serviceaccount:" + releaseNamespace + ":" + sa,
				Groups:             []string{"system:serviceaccounts", "system:serviceaccounts:" + releaseNamespace, "system:authenticated"},
				ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: namespace, Verb: verb, Resource: "secrets"},
			}}
			Expect(k8s.Create(ctxT(), sar)).To(Succeed())
			return sar.Status.Allowed
		}
		for _, verb := range []string{"get", "list", "watch"} {
			Expect(can(rcvSA, verb, releaseNamespace)).To(BeTrue(), "receiver %s secrets in %s", verb, releaseNamespace)
			Expect(can(rcvSA, verb, team.Name)).To(BeFalse(), "receiver %s secrets in a team's namespace", verb)
			Expect(can(rcvSA, verb, "")).To(BeFalse(), "receiver %s secrets cluster-wide", verb)
		}
		for _, verb := range []string{"create", "update", "patch", "delete"} {
			Expect(can(rcvSA, verb, releaseNamespace)).To(BeFalse(), "receiver %s secrets", verb)
			Expect(can(mgrSA, verb, releaseNamespace)).To(BeTrue(), "manager %s secrets in %s (key mirrors)", verb, releaseNamespace)
		}
		// The manager writes a team's signing Secret only when handed it,
		// and can never delete one.
		Expect(can(mgrSA, "delete", team.Name)).To(BeFalse(), "manager delete secrets in a team's namespace")
	})
})
