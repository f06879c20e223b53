package main

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// manifest is the part of krew's Plugin (v1alpha2) the test reads.
type manifest struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Version          string `json:"version"`
		Homepage         string `json:"homepage"`
		ShortDescription string `json:"shortDescription"`
		Description      string `json:"description"`
		Caveats          string `json:"caveats"`
		Platforms        []struct {
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
			URI    string `json:"uri"`
			SHA256 string `json:"sha256"`
			Bin    string `json:"bin"`
		} `json:"platforms"`
	} `json:"spec"`
}

// fakeRelease packs a small fake binary per platform into dist, as the
// release would pack the cross builds.
func fakeRelease(t *testing.T) (dist string) {
	dir := t.TempDir()
	dist = filepath.Join(dir, "dist")
	if err := os.MkdirAll(dist, 0o755); err != nil {
		t.Fatal(err)
	}
	license := filepath.Join(dir, "LICENSE")
	if err := os.WriteFile(license, []byte("Apache License 2.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range Platforms {
		bin := filepath.Join(dir, p.OS+"_"+p.Arch)
		if err := os.WriteFile(bin, []byte("fake kubectl-hookgate for "+p.OS+"/"+p.Arch), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := Pack(filepath.Join(dist, p.Archive()), bin, p.Bin(), license, time.Unix(1700000000, 0)); err != nil {
			t.Fatal(err)
		}
	}
	return dist
}

func TestManifest(t *testing.T) {
	dist := fakeRelease(t)
	out := filepath.Join(dist, "hookgate.yaml")
	if err := WriteManifest(out, "v1.2.3", dist, Platforms); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := yaml.UnmarshalStrict(b, &m); err != nil {
		t.Fatalf("the manifest does not parse: %v\n%s", err, b)
	}
	if m.APIVersion != "krew.googlecontainertools.github.com/v1alpha2" || m.Kind != "Plugin" || m.Metadata.Name != "hookgate" ||
		m.Spec.Version != "v1.2.3" || m.Spec.Homepage != "https://github.com/hookgate/hookgate" || m.Spec.ShortDescription == "" ||
		m.Spec.Description == "" || len(m.Spec.ShortDescription) > 60 {
		t.Fatalf("manifest header: %+v", m)
	}
	if len(m.Spec.Platforms) != len(Platforms) {
		t.Fatalf("%d platforms, want %d", len(m.Spec.Platforms), len(Platforms))
	}
	for i, p := range m.Spec.Platforms {
		want := Platforms[i]
		if !reflect.DeepEqual(p.Selector.MatchLabels, map[string]string{"os": want.OS, "arch": want.Arch}) {
			t.Errorf("platform %d selector %v", i, p.Selector.MatchLabels)
		}
		prefix := "https://github.com/hookgate/hookgate/releases/download/v1.2.3/"
		if !strings.HasPrefix(p.URI, prefix) || p.URI != prefix+"kubectl-hookgate_"+want.OS+"_"+want.Arch+".tar.gz" {
			t.Errorf("platform %d uri %s", i, p.URI)
		}
		archive, err := os.ReadFile(filepath.Join(dist, path.Base(p.URI)))
		if err != nil {
			t.Fatalf("platform %d: the uri names no archive that was built: %v", i, err)
		}
		sum := sha256.Sum256(archive)
		if p.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("platform %d: sha256 %s, the archive's is %x", i, p.SHA256, sum)
		}
		if p.Bin != want.Bin() || (want.OS == "windows") != strings.HasSuffix(p.Bin, ".exe") {
			t.Errorf("platform %d bin %q", i, p.Bin)
		}
		// The archive holds the bin the manifest names, executable, and the license.
		files := untar(t, filepath.Join(dist, path.Base(p.URI)))
		if files[p.Bin].mode != 0o755 || files[p.Bin].body != "fake kubectl-hookgate for "+want.OS+"/"+want.Arch ||
			files["LICENSE"].body != "Apache License 2.0\n" || len(files) != 2 {
			t.Errorf("platform %d archive: %+v", i, files)
		}
	}
}

type entry struct {
	mode int64
	body string
}

func untar(t *testing.T, p string) map[string]entry {
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	out := map[string]entry{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = entry{h.Mode, string(b)}
	}
}

func TestRenderNeedsEveryArchive(t *testing.T) {
	dist := fakeRelease(t)
	if err := os.Remove(filepath.Join(dist, Platforms[2].Archive())); err != nil {
		t.Fatal(err)
	}
	if _, err := Render("v1.2.3", dist, Platforms); err == nil {
		t.Fatal("rendered without an archive")
	}
}

func TestPackIsReproducible(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.WriteFile(bin, []byte("x"), 0o700); err != nil {
		t.Fatal(err)
	}
	a, b := filepath.Join(dir, "a.tar.gz"), filepath.Join(dir, "b.tar.gz")
	mtime := time.Unix(1700000000, 0)
	if err := Pack(a, bin, "kubectl-hookgate", "", mtime); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(bin, time.Now(), time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := Pack(b, bin, "kubectl-hookgate", "", mtime); err != nil {
		t.Fatal(err)
	}
	ba, _ := os.ReadFile(a)
	bb, _ := os.ReadFile(b)
	if string(ba) != string(bb) {
		t.Fatal("the same input packed twice differs")
	}
	if files := untar(t, a); len(files) != 1 || files["kubectl-hookgate"].mode != 0o755 {
		t.Fatalf("archive without a license: %+v", files)
	}
}

func TestVersionIsChecked(t *testing.T) {
	for _, v := range []string{"", "1.2.3", "v1.2", "vX"} {
		if err := release(v, t.TempDir(), "./nothing", "LICENSE"); err == nil || !strings.Contains(err.Error(), "semantic version") {
			t.Errorf("%q: %v", v, err)
		}
	}
	for _, v := range []string{"v0.3.0", "v1.0.0-rc.1", "v2.1.0+build.5"} {
		if !semver.MatchString(v) {
			t.Errorf("%q refused", v)
		}
	}
}
