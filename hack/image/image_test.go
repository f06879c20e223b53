package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

const systemCABundle = "/etc/ssl/certs/ca-certificates.crt"

// testOptions builds only the host's platform, whose binary the test can run;
// `make image` builds every platform through the same code.
func testOptions(t *testing.T) options {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return options{
		Root:      root,
		Platforms: []v1.Platform{{OS: "linux", Architecture: runtime.GOARCH}},
		CABundle:  systemCABundle,
		Epoch:     1700000000,
		Source:    "https://github.com/hookgate/hookgate",
		Revision:  "0123456789abcdef0123456789abcdef01234567",
		Version:   "0.0.0-test",
		WorkDir:   t.TempDir(),
	}
}

var hostBuild struct {
	once sync.Once
	idx  v1.ImageIndex
	err  error
}

// hostIndex builds the host-platform index once for the whole package.
func hostIndex(t *testing.T) v1.ImageIndex {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the image's binary runs on linux only")
	}
	hostBuild.once.Do(func() {
		o := testOptions(t)
		o.WorkDir, hostBuild.err = os.MkdirTemp("", "hookgate-image-test-")
		if hostBuild.err != nil {
			return
		}
		defer os.RemoveAll(o.WorkDir)
		hostBuild.idx, hostBuild.err = build(context.Background(), o)
	})
	if hostBuild.err != nil {
		t.Fatal(hostBuild.err)
	}
	return hostBuild.idx
}

func hostImage(t *testing.T, idx v1.ImageIndex) v1.Image {
	t.Helper()
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range m.Manifests {
		if d.Platform != nil && d.Platform.OS == "linux" && d.Platform.Architecture == runtime.GOARCH {
			img, err := idx.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			return img
		}
	}
	t.Fatalf("index has no linux/%s image: %+v", runtime.GOARCH, m.Manifests)
	return nil
}

type file struct {
	hdr  *tar.Header
	data []byte
}

// filesOf reads every layer in order; a later layer's entry wins.
func filesOf(t *testing.T, img v1.Image) map[string]file {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]file{}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[strings.TrimSuffix(h.Name, "/")] = file{hdr: h, data: b}
		}
		rc.Close()
	}
	return files
}

func TestImageConfigRunsHookgateAsNonrootWithOCILabels(t *testing.T) {
	idx := hostIndex(t)
	cf, err := hostImage(t, idx).ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if got := cf.Config.Entrypoint; len(got) != 1 || got[0] != "/hookgate" {
		t.Errorf("entrypoint %q, want [/hookgate] (the chart passes the subcommand as the first argument)", got)
	}
	if len(cf.Config.Cmd) != 0 {
		t.Errorf("cmd %q, want none", cf.Config.Cmd)
	}
	if cf.Config.User != "65532:65532" {
		t.Errorf("user %q, want 65532:65532", cf.Config.User)
	}
	o := testOptions(t)
	want := map[string]string{
		"org.opencontainers.image.source":   o.Source,
		"org.opencontainers.image.revision": o.Revision,
		"org.opencontainers.image.version":  o.Version,
		"org.opencontainers.image.created":  "2023-11-14T22:13:20Z",
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range want {
		if cf.Config.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, cf.Config.Labels[k], v)
		}
		if im.Annotations[k] != v {
			t.Errorf("index annotation %s = %q, want %q", k, im.Annotations[k], v)
		}
	}
	if got := cf.Created.UTC().Format("2006-01-02T15:04:05Z"); got != want["org.opencontainers.image.created"] {
		t.Errorf("config created %s, want SOURCE_DATE_EPOCH", got)
	}
}

func TestImageHasNoShellOnlyHookgateAndTheCABundle(t *testing.T) {
	files := filesOf(t, hostImage(t, hostIndex(t)))
	for n, f := range files {
		if f.hdr.Typeflag == tar.TypeSymlink || f.hdr.Typeflag == tar.TypeLink {
			t.Errorf("%s is a link", n)
		}
		if f.hdr.Typeflag == tar.TypeReg && f.hdr.Mode&0o111 != 0 && n != "hookgate" {
			t.Errorf("%s is executable; the only executable must be /hookgate", n)
		}
		if f.hdr.Uid != 0 && n != "home/nonroot" {
			t.Errorf("%s owned by %d, want root", n, f.hdr.Uid)
		}
	}
	for _, sh := range []string{"bin/sh", "bin/bash", "bin/busybox", "usr/bin/sh"} {
		if _, ok := files[sh]; ok {
			t.Errorf("image has /%s", sh)
		}
	}
	want, err := os.ReadFile(systemCABundle)
	if err != nil {
		t.Fatal(err)
	}
	if ca := files["etc/ssl/certs/ca-certificates.crt"]; !bytes.Equal(ca.data, want) {
		t.Errorf("/etc/ssl/certs/ca-certificates.crt: %d bytes, want the system bundle's %d", len(ca.data), len(want))
	}
	if !strings.Contains(string(files["etc/passwd"].data), "nonroot:x:65532:65532:") ||
		!strings.Contains(string(files["etc/group"].data), "nonroot:x:65532:") {
		t.Errorf("/etc/passwd or /etc/group lack nonroot 65532:\n%s%s", files["etc/passwd"].data, files["etc/group"].data)
	}
	if tmp, ok := files["tmp"]; !ok || tmp.hdr.Typeflag != tar.TypeDir || tmp.hdr.Mode != 0o1777 {
		t.Errorf("/tmp missing or not mode 1777")
	}
}

func TestImageBinaryPrintsUsageAndExitsZero(t *testing.T) {
	bin := filesOf(t, hostImage(t, hostIndex(t)))["hookgate"]
	if bin.hdr == nil || bin.hdr.Mode != 0o755 {
		t.Fatal("no /hookgate with mode 0755")
	}
	p := filepath.Join(t.TempDir(), "hookgate")
	if err := os.WriteFile(p, bin.data, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(p, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("hookgate --help: %v\n%s", err, out)
	}
	for _, cmd := range []string{"usage: hookgate", "manager", "receiver"} {
		if !strings.Contains(string(out), cmd) {
			t.Errorf("hookgate --help lacks %q:\n%s", cmd, out)
		}
	}
	// Static: a dynamically linked binary names its interpreter.
	if bytes.Contains(bin.data, []byte("/lib64/ld-linux")) || bytes.Contains(bin.data, []byte("/lib/ld-linux")) {
		t.Error("/hookgate is dynamically linked")
	}
}

func TestImageSameInputsGiveTheSameDigest(t *testing.T) {
	first, err := hostIndex(t).Digest()
	if err != nil {
		t.Fatal(err)
	}
	o := testOptions(t)
	again, err := build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	second, err := again.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if first != second {
		t.Fatalf("two builds of one tree: index %s and %s", first, second)
	}
	// The layout and archive are bytes of the same index, written the same.
	dirs := [2]string{t.TempDir(), t.TempDir()}
	var sums [2][]byte
	for i, d := range dirs {
		if err := writeLayout(filepath.Join(d, "oci"), again, o.Version); err != nil {
			t.Fatal(err)
		}
		if err := writeArchive(filepath.Join(d, "oci"), filepath.Join(d, "a.tar"), o.Epoch); err != nil {
			t.Fatal(err)
		}
		if sums[i], err = os.ReadFile(filepath.Join(d, "a.tar")); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(sums[0], sums[1]) {
		t.Error("two oci-archives of one index differ")
	}
}

// TestImagePushesToARegistry pushes to go-containerregistry's in-memory
// registry on loopback, the way `make image-push` pushes to ghcr.io, and pulls
// the index and the host's image back by tag.
func TestImagePushesToARegistry(t *testing.T) {
	idx := hostIndex(t)
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	ref := u.Host + "/hookgate/hookgate:0.0.0-test"
	pushed, err := pushIndex(context.Background(), ref, idx, false)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := idx.Digest()
	if !strings.HasSuffix(pushed, "@"+want.String()) {
		t.Errorf("pushed %s, want digest %s", pushed, want)
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	pulled, err := remote.Index(r)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := pulled.Digest(); got != want {
		t.Errorf("pulled index %s, pushed %s", got, want)
	}
	img, err := remote.Image(r, remote.WithPlatform(v1.Platform{OS: "linux", Architecture: runtime.GOARCH}))
	if err != nil {
		t.Fatal(err)
	}
	gotImg, _ := img.Digest()
	wantImg, _ := hostImage(t, idx).Digest()
	if gotImg != wantImg {
		t.Errorf("pulled linux/%s image %s, pushed %s", runtime.GOARCH, gotImg, wantImg)
	}
	if _, err := img.Layers(); err != nil {
		t.Error(err)
	}
}

func TestParsePlatformsAndSourceDateEpoch(t *testing.T) {
	ps, err := parsePlatforms("linux/amd64, linux/arm64")
	if err != nil || len(ps) != 2 || ps[1].Architecture != "arm64" {
		t.Errorf("parsePlatforms = %v, %v", ps, err)
	}
	for _, bad := range []string{"", "amd64", "darwin/arm64", "linux/arm/v7"} {
		if _, err := parsePlatforms(bad); err == nil {
			t.Errorf("parsePlatforms(%q) accepted", bad)
		}
	}
	if n, err := sourceDateEpoch(""); n != 0 || err != nil {
		t.Errorf(`sourceDateEpoch("") = %d, %v; want 0`, n, err)
	}
	if _, err := sourceDateEpoch("yesterday"); err == nil {
		t.Error("sourceDateEpoch accepted a non-number")
	}
}
