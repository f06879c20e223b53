package e2e

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/types"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/ingress/verify"
	"github.com/hookgate/hookgate/internal/keyring"
	"github.com/hookgate/hookgate/internal/testenv"
)

// samplePort is where config/samples expects its target.
const samplePort = 9090

// The journey a platform engineer takes, driven only through kubectl and
// signed HTTP requests: apply the samples, send webhooks, read what
// `kubectl get` and `kubectl describe` say, rotate, dead-letter and replay,
// suspend and resume.
var _ = Describe("A platform engineer with kubectl", Ordered, func() {
	var (
		ns     string
		tgt    *target
		secret []byte
		path   string
	)
	jsonpath := func(expr string) string {
		return kc("-n", ns, "get", "webhookendpoint", "github", "-o", "jsonpath="+expr)
	}
	counter := func(name string) func() string {
		return func() string { return jsonpath("{.status.deliveries." + name + "}") }
	}
	send := func(key []byte, body, delivery string) int {
		req, err := http.NewRequest(http.MethodPost, receiverURL()+path, strings.NewReader(body))
		Expect(err).NotTo(HaveOccurred())
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-GitHub-Delivery", delivery)
		req.Header.Set("X-Hub-Signature-256", verify.SignGitHub([]byte(body), key))
		resp, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		return resp.StatusCode
	}
	received := func() int { return len(tgt.requests()) }

	BeforeAll(func() {
		ns = "journey"
		kc("create", "namespace", ns)
		// The sample's target listens on 9090: serve it there.
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(samplePort))
		Expect(err).NotTo(HaveOccurred(), "port %d is needed by config/samples (is `make dev` running?)", samplePort)
		tgt = newTargetOn(l)

		kc("-n", ns, "apply", "-f", "config/samples/local/webhook-target.yaml")
		kc("-n", ns, "apply", "-f", "config/samples/hookgate_v1alpha1_webhookendpoint.yaml")
		kc("-n", ns, "wait", "--for=condition=Ready", "webhookendpoint/github", "--timeout=60s")
		path = jsonpath("{.status.webhookPath}")
		Expect(path).To(MatchRegexp(`^/hook/[0-9a-f]{32}$`))
		secret = []byte(kc("-n", ns, "get", "secret", "github-webhook", "-o", "jsonpath={.data.secret}"))
		secret = decodeB64(secret)
		// The receiver learns the path from its watch: wait until it routes.
		Eventually(func() int {
			resp, err := http.Get(receiverURL() + path)
			if err != nil {
				return 0
			}
			resp.Body.Close()
			return resp.StatusCode
		}, timeout, poll).Should(Equal(http.StatusMethodNotAllowed))
	})

	AfterAll(func() {
		if CurrentSpecReport().Failed() {
			fmt.Fprintln(GinkgoWriter, kc("-n", ns, "describe", "webhookendpoint", "github"))
			fmt.Fprintln(GinkgoWriter, kc("-n", ns, "get", "events"))
		}
	})

	It("shows each event received once, and kubectl get and describe say so", func() {
		Expect(send(secret, `{"n":1}`, "j-1")).To(Equal(http.StatusOK))
		Expect(send(secret, `{"n":2}`, "j-2")).To(Equal(http.StatusOK))
		Expect(send(secret, `{"n":1}`, "j-1")).To(Equal(http.StatusOK), "a redelivery")
		Expect(send([]byte("forged"), `{"n":3}`, "j-3")).To(Equal(http.StatusUnauthorized))

		Eventually(counter("delivered"), timeout, poll).Should(Equal("2"))
		Eventually(counter("duplicates"), timeout, poll).Should(Equal("1"))
		Eventually(counter("rejected"), timeout, poll).Should(Equal("1"))
		Consistently(received, time.Second, poll).Should(Equal(2))

		get := kc("-n", ns, "get", "webhookendpoints")
		Expect(get).To(MatchRegexp(`github\s+github\s+True\s+http://127\.0\.0\.1:\d+/hook/[0-9a-f]{32}\s+2\s+2\s+0`))
		desc := kc("-n", ns, "describe", "webhookendpoint", "github")
		for _, want := range []string{"Type:                  Ready", "Received:           2", "Delivered:          2",
			"Duplicates:         1", "Rejected:           1"} {
			Expect(desc).To(ContainSubstring(want))
		}
		// The Events table's columns widen with the longest reason shown.
		Expect(desc).To(MatchRegexp(`Normal\s+Succeeded`))
	})

	It("refuses to rotate a Secret it was not handed, then rotates it once labelled, without rejecting requests signed with the previous key", func() {
		kc("-n", ns, "patch", "webhookendpoint", "github", "--type=merge", "-p", `{"spec":{"rotation":{"interval":"720h","gracePeriod":"1h"}}}`)
		kc("-n", ns, "annotate", "webhookendpoint", "github", hookv1.AnnotationRotate+"=first", "--overwrite")
		Eventually(func() string { return jsonpath(`{.status.conditions[?(@.type=="SecretReady")].reason}`) }, timeout, poll).
			Should(Equal(hookv1.ReasonSecretNotManaged))
		Expect(decodeB64([]byte(kc("-n", ns, "get", "secret", "github-webhook", "-o", "jsonpath={.data.secret}")))).To(Equal(secret))
		Expect(send(secret, `{"unmanaged":true}`, "rot-unmanaged")).To(Equal(http.StatusOK), "verification goes on without rotation")

		By("handing the Secret over with the endpoint-name label")
		kc("-n", ns, "label", "secret", "github-webhook", hookv1.LabelEndpointName+"=github")
		var fresh []byte
		Eventually(func() string {
			fresh = decodeB64([]byte(kc("-n", ns, "get", "secret", "github-webhook", "-o", "jsonpath={.data.secret}")))
			return string(fresh)
		}, timeout, poll).ShouldNot(Equal(string(secret)))
		Expect(jsonpath("{.status.webhookPath}")).To(Equal(path), "the URL does not change")
		Eventually(func() string { return kc("-n", ns, "describe", "webhookendpoint", "github") }, timeout, poll).
			Should(ContainSubstring("SecretRotated"))

		before := received()
		// The manager mirrors the new key; the receiver picks it up from its watch.
		Eventually(func() int {
			return send(fresh, `{"rotated":"new"}`, "rot-new-"+strconv.Itoa(int(time.Now().UnixNano())))
		}, timeout, poll).Should(Equal(http.StatusOK))
		Expect(send(secret, `{"rotated":"old"}`, "rot-old")).To(Equal(http.StatusOK), "the previous key is valid during the grace period")
		Eventually(received, timeout, poll).Should(BeNumerically(">=", before+2))
		secret = fresh
	})

	It("dead-letters events a failing target refuses, and replays them when asked", func() {
		kc("-n", ns, "patch", "webhookendpoint", "github", "--type=merge", "-p",
			`{"spec":{"delivery":{"maxAttempts":2,"backoff":{"initial":"100ms","max":"200ms"}}}}`)
		tgt.setFail(true)
		Expect(send(secret, `{"doomed":true}`, "dl-1")).To(Equal(http.StatusOK))
		Eventually(counter("deadLettered"), timeout, poll).Should(Equal("1"))
		Eventually(func() string { return kc("-n", ns, "describe", "webhookendpoint", "github") }, timeout, poll).
			Should(ContainSubstring("DeadLettered"))

		tgt.setFail(false)
		before := received()
		kc("-n", ns, "annotate", "webhookendpoint", "github", hookv1.AnnotationReplay+"=r1", "--overwrite")
		Eventually(func() string { return jsonpath("{.status.replay.replayed}") }, timeout, poll).Should(Equal("1"))
		Eventually(received, timeout, poll).Should(Equal(before + 1))
		Expect(tgt.requests()[before].body).To(Equal(`{"doomed":true}`))
	})

	It("holds events while suspended and delivers them on resume", func() {
		kc("-n", ns, "patch", "webhookendpoint", "github", "--type=merge", "-p", `{"spec":{"suspend":true}}`)
		Eventually(func() string { return jsonpath(`{.status.conditions[?(@.type=="Ready")].reason}`) }, timeout, poll).Should(Equal("Suspended"))
		before := received()
		// The receiver sees the suspension through its own watch; give it a moment.
		time.Sleep(time.Second)
		Expect(send(secret, `{"held":true}`, "held-1")).To(Equal(http.StatusOK))
		Eventually(counter("pending"), timeout, poll).Should(Equal("1"))
		Consistently(received, 2*time.Second, poll).Should(Equal(before))

		kc("-n", ns, "patch", "webhookendpoint", "github", "--type=merge", "-p", `{"spec":{"suspend":false}}`)
		kc("-n", ns, "wait", "--for=condition=Ready", "webhookendpoint/github", "--timeout=60s")
		Eventually(received, timeout, poll).Should(Equal(before + 1))
		Eventually(counter("pending"), timeout, poll).Should(Equal("0"))

		// HOOKGATE_CAPTURE_DOCS=1 refreshes the example in docs/.
		if os.Getenv("HOOKGATE_CAPTURE_DOCS") != "" {
			get := kc("-n", ns, "get", "webhookendpoints")
			desc := kc("-n", ns, "describe", "webhookendpoint", "github")
			Expect(os.WriteFile(filepath.Join(testenv.RepoRoot(), "docs", "examples", "describe.txt"),
				[]byte("$ kubectl get webhookendpoints\n"+get+"\n$ kubectl describe webhookendpoint github\n"+desc), 0o644)).To(Succeed())
		}
	})

	It("cleans up what it made when the endpoint is deleted", func() {
		uid := types.UID(jsonpath("{.metadata.uid}"))
		Expect(uid).NotTo(BeEmpty())
		mirror := keyring.MirrorName(string(uid))
		kc("-n", releaseNamespace, "get", "secret", mirror)
		kc("-n", ns, "delete", "webhookendpoint", "github", "--wait=true", "--timeout=60s")
		out, err := runErr(kubectl(), "--kubeconfig", kubeconfig, "-n", ns, "get", "webhookendpoint", "github")
		Expect(err).To(HaveOccurred())
		Expect(out).To(ContainSubstring("NotFound"))
		out, err = runErr(kubectl(), "--kubeconfig", kubeconfig, "-n", releaseNamespace, "get", "secret", mirror)
		Expect(err).To(HaveOccurred(), "the receiver's key mirror goes with the endpoint")
		Expect(out).To(ContainSubstring("NotFound"))
	})
})
