package e2e

import (
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

var _ = Describe("The chart's scale-out mode", func() {
	It("renders a stateless receiver Deployment with an HPA, spread and a budget, and the API server accepts it", func() {
		rendered, objs := renderChart(
			"--set", "nats.external.url=nats://nats.nats.svc:4222",
			"--set", "nats.external.streamReplicas=3",
			"--set", "nats.auth.existingSecret=hookgate-nats",
			"--set", "receiver.replicas=3",
			"--set", "receiver.autoscaling.enabled=true",
			"--set", "receiver.podDisruptionBudget.minAvailable=2",
		)
		dep := findObject(objs, "Deployment", releaseName+"-receiver")
		for _, o := range objs {
			Expect(o.GetKind() == "StatefulSet" && o.GetName() == releaseName+"-receiver").To(BeFalse(), "no StatefulSet with an external NATS")
		}
		_, hasReplicas, _ := unstructured.NestedFieldNoCopy(dep.Object, "spec", "replicas")
		Expect(hasReplicas).To(BeFalse(), "the HPA owns the replica count")
		spread, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "topologySpreadConstraints")
		Expect(spread).To(HaveLen(2))
		_, args := podSpecOf(dep)
		Expect(args).To(ContainElements("--nats-url=nats://nats.nats.svc:4222", "--stream-replicas=3"))
		Expect(envSecretRef(dep, "HOOKGATE_NATS_TOKEN")).To(Equal("hookgate-nats/token"))
		hpa := findObject(objs, "HorizontalPodAutoscaler", releaseName+"-receiver")
		minR, _, _ := unstructured.NestedFieldNoCopy(hpa.Object, "spec", "minReplicas")
		Expect(minR).To(BeNumerically(">=", 2))
		pdb := findObject(objs, "PodDisruptionBudget", releaseName+"-receiver")
		Expect(pdb.Object["spec"]).To(HaveKeyWithValue("minAvailable", BeNumerically("==", 2)))

		p := filepath.Join(workDir, "scaleout.yaml")
		Expect(os.WriteFile(p, []byte(rendered), 0o644)).To(Succeed())
		kc("apply", "--server-side", "--dry-run=server", "-f", p)
	})

	It("refuses an external NATS cluster without credentials", func() {
		out, err := runErr(helm(), "template", releaseName, "charts/hookgate", "--set", "nats.external.url=nats://nats:4222")
		Expect(err).To(HaveOccurred())
		Expect(out).To(ContainSubstring("an external NATS cluster needs credentials"))
	})
})
