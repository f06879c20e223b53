// Command image builds the hookgate container image without a container
// engine, as `make image` runs it: a static hookgate binary per platform on a
// base it writes itself (scratch, plus /etc/passwd and /etc/group with the
// nonroot user 65532, the CA certificates of the build machine and /tmp; no
// shell, no package manager), assembled with go-containerregistry into a
// multi-arch OCI image index. It writes an OCI layout and an oci-archive
// tarball of it, and pushes the index when -push names a reference.
//
// The same commit, Go toolchain and CA bundle give the same digest: every
// timestamp is SOURCE_DATE_EPOCH, tar entries are sorted with fixed owners and
// modes, gzip runs at a fixed level, and the binary is built with -trimpath
// and no build ID or VCS stamp.
//
// It is a tool of the repository, never imported by the hookgate binary.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The image's contract with the chart and the kustomize layout: they pass
// the subcommand ("manager", "receiver") as the first argument and run as
// 65532:65532.
const (
	entrypoint = "/hookgate"
	user       = "65532:65532"
	nonrootUID = 65532
	// caPath is where Go's crypto/x509 looks first on Linux.
	caPath = "etc/ssl/certs/ca-certificates.crt"
)

// OCI annotation keys (image-spec annotations.md), set as config labels and
// as manifest and index annotations.
const (
	annotationSource      = "org.opencontainers.image.source"
	annotationRevision    = "org.opencontainers.image.revision"
	annotationVersion     = "org.opencontainers.image.version"
	annotationCreated     = "org.opencontainers.image.created"
	annotationTitle       = "org.opencontainers.image.title"
	annotationDescription = "org.opencontainers.image.description"
	annotationRefName     = "org.opencontainers.image.ref.name"
)

// options says what to build; the zero value of a field is never guessed.
type options struct {
	// Root is the module root holding ./cmd/hookgate.
	Root      string
	Platforms []v1.Platform
	// CABundle is the PEM bundle copied into the image.
	CABundle string
	// Epoch is SOURCE_DATE_EPOCH: every timestamp in the image.
	Epoch    int64
	Source   string
	Revision string
	Version  string
	// WorkDir receives the per-platform binaries.
	WorkDir string
}

func main() {
	o := options{}
	var platforms, out, archive, push, digestFile string
	var insecure bool
	flag.StringVar(&o.Root, "root", ".", "module root with ./cmd/hookgate")
	flag.StringVar(&platforms, "platforms", "linux/amd64,linux/arm64", "comma-separated os/arch list")
	flag.StringVar(&o.CABundle, "ca-bundle", "/etc/ssl/certs/ca-certificates.crt", "PEM CA bundle copied to /"+caPath)
	flag.StringVar(&o.Source, "source", "https://github.com/hookgate/hookgate", "value of "+annotationSource)
	flag.StringVar(&o.Revision, "revision", "", "value of "+annotationRevision+" (the commit)")
	flag.StringVar(&o.Version, "version", "", "value of "+annotationVersion)
	flag.StringVar(&out, "out", "bin/image/oci", "OCI layout directory to (re)write; empty writes none")
	flag.StringVar(&archive, "archive", "bin/image/hookgate.oci.tar", "oci-archive tarball of the layout; empty writes none")
	flag.StringVar(&push, "push", "", "push the index to this reference, e.g. ghcr.io/hookgate/hookgate:0.2.0")
	flag.BoolVar(&insecure, "insecure", false, "push over plain HTTP (localhost and private addresses always are)")
	flag.StringVar(&digestFile, "digest-file", "", "write the index digest (sha256:...) to this file")
	flag.Parse()

	if err := run(o, platforms, out, archive, push, digestFile, insecure); err != nil {
		fmt.Fprintf(os.Stderr, "image: %v\n", err)
		os.Exit(1)
	}
}

func run(o options, platforms, out, archive, push, digestFile string, insecure bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	var err error
	if o.Platforms, err = parsePlatforms(platforms); err != nil {
		return err
	}
	if o.Epoch, err = sourceDateEpoch(os.Getenv("SOURCE_DATE_EPOCH")); err != nil {
		return err
	}
	if o.Root, err = filepath.Abs(o.Root); err != nil {
		return err
	}
	if o.WorkDir, err = os.MkdirTemp("", "hookgate-image-"); err != nil {
		return err
	}
	defer os.RemoveAll(o.WorkDir)

	idx, err := build(ctx, o)
	if err != nil {
		return err
	}
	if err := describe(os.Stdout, idx); err != nil {
		return err
	}
	if out != "" {
		if err := writeLayout(out, idx, o.Version); err != nil {
			return err
		}
		fmt.Printf("wrote OCI layout %s\n", out)
		if archive != "" {
			if err := writeArchive(out, archive, o.Epoch); err != nil {
				return err
			}
			fmt.Printf("wrote oci-archive %s\n", archive)
		}
	}
	d, err := idx.Digest()
	if err != nil {
		return err
	}
	if digestFile != "" {
		if err := os.MkdirAll(filepath.Dir(digestFile), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(digestFile, []byte(d.String()+"\n"), 0o644); err != nil {
			return err
		}
	}
	if push != "" {
		pushed, err := pushIndex(ctx, push, idx, insecure, remote.WithAuthFromKeychain(authn.DefaultKeychain))
		if err != nil {
			return err
		}
		fmt.Printf("pushed %s\n", pushed)
	}
	return nil
}

// parsePlatforms reads "linux/amd64,linux/arm64".
func parsePlatforms(s string) ([]v1.Platform, error) {
	var ps []v1.Platform
	for _, f := range strings.Split(s, ",") {
		osName, arch, ok := strings.Cut(strings.TrimSpace(f), "/")
		if !ok || osName != "linux" || arch == "" || strings.Contains(arch, "/") {
			return nil, fmt.Errorf("platform %q: want linux/<arch>", f)
		}
		ps = append(ps, v1.Platform{OS: osName, Architecture: arch})
	}
	if len(ps) == 0 {
		return nil, errors.New("no platform")
	}
	return ps, nil
}

// sourceDateEpoch parses SOURCE_DATE_EPOCH (reproducible-builds.org); unset
// is 0, the Unix epoch, never the current time.
func sourceDateEpoch(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("SOURCE_DATE_EPOCH %q: want seconds since 1970", s)
	}
	return n, nil
}

// build returns the image index with one image per platform.
func build(ctx context.Context, o options) (v1.ImageIndex, error) {
	if o.Revision == "" || o.Version == "" || o.Source == "" {
		return nil, errors.New("source, revision and version are required (make image sets them from git)")
	}
	created := time.Unix(o.Epoch, 0).UTC()
	annotations := map[string]string{
		annotationSource:      o.Source,
		annotationRevision:    o.Revision,
		annotationVersion:     o.Version,
		annotationCreated:     created.Format(time.RFC3339),
		annotationTitle:       "hookgate",
		annotationDescription: "Hookgate webhook receiver and operator: hookgate manager | receiver | target | send",
	}
	base, err := baseLayer(o.CABundle, created)
	if err != nil {
		return nil, err
	}
	goVersion, err := goEnv(ctx, o.Root, "GOVERSION")
	if err != nil {
		return nil, err
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range o.Platforms {
		bin := filepath.Join(o.WorkDir, "hookgate-"+p.OS+"-"+p.Architecture)
		if err := goBuild(ctx, o.Root, p, bin); err != nil {
			return nil, err
		}
		img, err := platformImage(p, base, bin, created, goVersion, annotations)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", p.OS, p.Architecture, err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: p.OS, Architecture: p.Architecture}},
		})
	}
	return mutate.Annotations(idx, annotations).(v1.ImageIndex), nil
}

// goBuild cross-compiles the static binary. GOAMD64 and GOARM64 are pinned
// so that a builder's environment cannot change the code generated; VCS
// stamping is off because a dirty work tree would otherwise change the bytes
// without a change of the commit label.
func goBuild(ctx context.Context, root string, p v1.Platform, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false",
		"-ldflags=-s -w -buildid=", "-o", out, "./cmd/hookgate")
	cmd.Dir = root
	cmd.Env = append(os.Environ(),
		"CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Architecture,
		"GOAMD64=v1", "GOARM64=v8.0", "GOEXPERIMENT=", "GOFLAGS=-mod=readonly")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build for %s/%s: %w\n%s", p.OS, p.Architecture, err, b)
	}
	return nil
}

func goEnv(ctx context.Context, root, key string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "env", key)
	cmd.Dir = root
	b, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go env %s: %w", key, err)
	}
	return strings.TrimSpace(string(b)), nil
}

func platformImage(p v1.Platform, base v1.Layer, bin string, created time.Time, goVersion string, annotations map[string]string) (v1.Image, error) {
	b, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	app, err := tarLayer([]entry{{name: strings.TrimPrefix(entrypoint, "/"), mode: 0o755, data: b}}, created)
	if err != nil {
		return nil, err
	}
	labels := map[string]string{}
	for k, v := range annotations {
		labels[k] = v
	}
	cfg := &v1.ConfigFile{
		Architecture: p.Architecture,
		OS:           p.OS,
		Created:      v1.Time{Time: created},
		Config: v1.Config{
			Entrypoint: []string{entrypoint},
			User:       user,
			WorkingDir: "/",
			// The one executable is /hookgate; nothing else to find.
			Env:    []string{"PATH=/"},
			Labels: labels,
		},
		RootFS: v1.RootFS{Type: "layers"},
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, err
	}
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, History: v1.History{Created: v1.Time{Time: created},
			CreatedBy: "hack/image: /etc/passwd, /etc/group (nonroot 65532), /" + caPath + ", /tmp"}},
		mutate.Addendum{Layer: app, History: v1.History{Created: v1.Time{Time: created},
			CreatedBy: "hack/image: " + entrypoint + " (" + goVersion + " CGO_ENABLED=0 -trimpath -ldflags=-s -w)"}},
	)
	if err != nil {
		return nil, err
	}
	return mutate.Annotations(img, annotations).(v1.Image), nil
}

// baseLayer is what distroless/static gives a static Go binary, written here
// so that nothing is pulled: users for 65532, CA certificates, a /tmp.
func baseLayer(caBundle string, created time.Time) (v1.Layer, error) {
	ca, err := os.ReadFile(caBundle)
	if err != nil {
		return nil, fmt.Errorf("reading the CA bundle (Debian: apt-get install ca-certificates): %w", err)
	}
	if !bytes.Contains(ca, []byte("-----BEGIN CERTIFICATE-----")) {
		return nil, fmt.Errorf("%s holds no PEM certificate", caBundle)
	}
	home := "home/nonroot"
	return tarLayer([]entry{
		{name: "etc", mode: 0o755, dir: true},
		{name: "etc/passwd", mode: 0o644, data: []byte(
			"root:x:0:0:root:/root:/sbin/nologin\n" +
				"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n" +
				"nonroot:x:65532:65532:nonroot:/" + home + ":/sbin/nologin\n")},
		{name: "etc/group", mode: 0o644, data: []byte("root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n")},
		{name: "etc/ssl", mode: 0o755, dir: true},
		{name: "etc/ssl/certs", mode: 0o755, dir: true},
		{name: caPath, mode: 0o644, data: ca},
		{name: "home", mode: 0o755, dir: true},
		{name: home, mode: 0o700, dir: true, uid: nonrootUID},
		{name: "tmp", mode: 0o1777, dir: true},
	}, created)
}

// entry is one file or directory of a layer.
type entry struct {
	name string
	mode int64
	dir  bool
	uid  int
	data []byte
}

// tarLayer writes the entries sorted by name, owned by uid (gid the same)
// with mtime created, as a gzip-compressed OCI layer.
func tarLayer(entries []entry, created time.Time) (v1.Layer, error) {
	sorted := append([]entry(nil), entries...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range sorted {
		h := &tar.Header{
			Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.uid,
			ModTime: created, Typeflag: tar.TypeReg, Size: int64(len(e.data)), Format: tar.FormatPAX,
		}
		if e.dir {
			h.Name, h.Typeflag, h.Size = e.name+"/", tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("tar %s: %w", e.name, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
		tarball.WithMediaType(types.OCILayer), tarball.WithCompressionLevel(gzip.DefaultCompression),
		tarball.WithCompressedCaching)
}

// describe prints the digests and sizes a release note wants.
func describe(w io.Writer, idx v1.ImageIndex) error {
	d, err := idx.Digest()
	if err != nil {
		return err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "index %s\n", d)
	for _, desc := range m.Manifests {
		img, err := idx.Image(desc.Digest)
		if err != nil {
			return err
		}
		size, err := imageSize(img)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  %s/%s %s %.1f MiB compressed\n", desc.Platform.OS, desc.Platform.Architecture, desc.Digest, float64(size)/(1<<20))
	}
	return nil
}

// imageSize is the bytes a pull transfers: manifest, config and layers.
func imageSize(img v1.Image) (int64, error) {
	m, err := img.Manifest()
	if err != nil {
		return 0, err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return 0, err
	}
	n := int64(len(raw)) + m.Config.Size
	for _, l := range m.Layers {
		n += l.Size
	}
	return n, nil
}

// writeLayout replaces dir with an OCI layout whose index.json names the
// image index by its version.
func writeLayout(dir string, idx v1.ImageIndex, tag string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	return p.AppendIndex(idx, layout.WithAnnotations(map[string]string{annotationRefName: tag}))
}

// writeArchive tars the layout (oci-archive, as skopeo, podman and
// `ctr images import` read it) with sorted entries and fixed metadata.
func writeArchive(dir, out string, epoch int64) error {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		files = append(files, path)
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(files)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	for _, path := range files {
		rel, _ := filepath.Rel(dir, path)
		st, err := os.Stat(path)
		if err != nil {
			f.Close()
			return err
		}
		h := &tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, ModTime: time.Unix(epoch, 0), Format: tar.FormatPAX}
		if st.IsDir() {
			h.Name, h.Mode, h.Typeflag = h.Name+"/", 0o755, tar.TypeDir
		} else {
			h.Typeflag, h.Size = tar.TypeReg, st.Size()
		}
		if err := tw.WriteHeader(h); err != nil {
			f.Close()
			return err
		}
		if !st.IsDir() {
			if err := copyFile(tw, path); err != nil {
				f.Close()
				return err
			}
		}
	}
	if err := tw.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func copyFile(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

// pushIndex pushes the index with every image and blob it references and
// returns the pushed reference by digest.
func pushIndex(ctx context.Context, ref string, idx v1.ImageIndex, insecure bool, opts ...remote.Option) (string, error) {
	var nameOpts []name.Option
	if insecure {
		nameOpts = append(nameOpts, name.Insecure)
	}
	r, err := name.ParseReference(ref, nameOpts...)
	if err != nil {
		return "", fmt.Errorf("image reference %q: %w", ref, err)
	}
	if err := remote.WriteIndex(r, idx, append(opts, remote.WithContext(ctx))...); err != nil {
		return "", fmt.Errorf("pushing %s: %w", r, err)
	}
	d, err := idx.Digest()
	if err != nil {
		return "", err
	}
	return r.Context().Digest(d.String()).String(), nil
}
