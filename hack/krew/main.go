// Command krew builds the kubectl-hookgate release for krew: it
// cross-builds the plugin for every platform of the manifest (CGO_ENABLED=0,
// -trimpath, the version in internal/plugin.Version), packs each build with
// LICENSE (when there is one) into kubectl-hookgate_<os>_<arch>.tar.gz, and
// renders the krew manifest hookgate.yaml.tmpl with each archive's sha256:
//
//	go run ./hack/krew -version v0.3.0 -dist bin/dist
//
// Run it from the repository's root. The archives are reproducible: their
// entries have fixed owners, modes and times (SOURCE_DATE_EPOCH, else the
// Unix epoch).
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"text/template"
	"time"
)

//go:embed hookgate.yaml.tmpl
var manifestTemplate string

// VersionVar is the variable the version is linked into.
const VersionVar = "github.com/hookgate/hookgate/internal/plugin.Version"

// Platform is one os/arch krew installs the plugin on.
type Platform struct {
	OS, Arch string
}

// Platforms are the ones the manifest lists.
var Platforms = []Platform{
	{"linux", "amd64"}, {"linux", "arm64"},
	{"darwin", "amd64"}, {"darwin", "arm64"},
	{"windows", "amd64"},
}

// Bin is the plugin's executable in the archive.
func (p Platform) Bin() string {
	if p.OS == "windows" {
		return "kubectl-hookgate.exe"
	}
	return "kubectl-hookgate"
}

// Archive is the archive's file name, as the manifest's uri names it.
func (p Platform) Archive() string {
	return "kubectl-hookgate_" + p.OS + "_" + p.Arch + ".tar.gz"
}

// semver is krew's spec.version: v and a semantic version.
var semver = regexp.MustCompile(`^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

func main() {
	version := flag.String("version", "", "the release's version, e.g. v0.3.0 (required; the tag the archives are uploaded under)")
	dist := flag.String("dist", "bin/dist", "directory to write the archives and hookgate.yaml to")
	pkg := flag.String("pkg", "./cmd/kubectl-hookgate", "the plugin's main package")
	license := flag.String("license", "LICENSE", "license file to pack with the binary, when it exists")
	flag.Parse()
	if err := release(*version, *dist, *pkg, *license); err != nil {
		fmt.Fprintln(os.Stderr, "krew:", err)
		os.Exit(1)
	}
}

func release(version, dist, pkg, license string) error {
	if !semver.MatchString(version) {
		return fmt.Errorf("-version %q: want v and a semantic version, e.g. v0.3.0", version)
	}
	if err := os.MkdirAll(dist, 0o755); err != nil {
		return err
	}
	if _, err := os.Stat(license); errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(os.Stderr, "krew: no %s: the archives hold the binary alone\n", license)
		license = ""
	}
	mtime, err := sourceDate()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "kubectl-hookgate-build")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for _, p := range Platforms {
		bin := filepath.Join(tmp, p.OS+"_"+p.Arch, p.Bin())
		if err := build(p, version, pkg, bin); err != nil {
			return err
		}
		if err := Pack(filepath.Join(dist, p.Archive()), bin, p.Bin(), license, mtime); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "krew: %s\n", filepath.Join(dist, p.Archive()))
	}
	out := filepath.Join(dist, "hookgate.yaml")
	if err := WriteManifest(out, version, dist, Platforms); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "krew: %s\n", out)
	return nil
}

// sourceDate is SOURCE_DATE_EPOCH, else the Unix epoch.
func sourceDate() (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: %w", s, err)
	}
	return time.Unix(n, 0).UTC(), nil
}

func build(p Platform, version, pkg, out string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X "+VersionVar+"="+version, "-o", out, pkg)
	cmd.Env = append(os.Environ(), "GOOS="+p.OS, "GOARCH="+p.Arch, "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building for %s/%s: %w", p.OS, p.Arch, err)
	}
	return nil
}

// Pack writes a .tar.gz at path holding bin as name (mode 0755) and, when
// license is not "", the license as LICENSE; with fixed owners and times.
func Pack(path, bin, name, license string, mtime time.Time) error {
	var buf bytes.Buffer
	gz, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return err
	}
	gz.ModTime = mtime
	tw := tar.NewWriter(gz)
	add := func(src, name string, mode int64) error {
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		h := &tar.Header{Name: name, Mode: mode, Size: int64(len(b)), ModTime: mtime, Typeflag: tar.TypeReg,
			Uname: "root", Gname: "root", Format: tar.FormatPAX}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		_, err = tw.Write(b)
		return err
	}
	if err := add(bin, name, 0o755); err != nil {
		return err
	}
	if license != "" {
		if err := add(license, "LICENSE", 0o644); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// manifestPlatform is one platform's entry of the manifest.
type manifestPlatform struct {
	Platform
	SHA256 string
}

// Render is the manifest for the archives in dist, one per platform.
func Render(version, dist string, platforms []Platform) ([]byte, error) {
	tmpl, err := template.New("hookgate.yaml").Option("missingkey=error").Parse(manifestTemplate)
	if err != nil {
		return nil, err
	}
	data := struct {
		Version   string
		Platforms []manifestPlatform
	}{Version: version}
	for _, p := range platforms {
		sum, err := fileSHA256(filepath.Join(dist, p.Archive()))
		if err != nil {
			return nil, err
		}
		data.Platforms = append(data.Platforms, manifestPlatform{p, sum})
	}
	var out bytes.Buffer
	if err := tmpl.Execute(&out, data); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// WriteManifest renders the manifest into path.
func WriteManifest(path, version, dist string, platforms []Platform) error {
	b, err := Render(version, dist, platforms)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
