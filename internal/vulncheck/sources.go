package vulncheck

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	modpath "golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/sync/errgroup"
)

// Defaults of the online source.
const (
	DefaultProxy      = "https://proxy.golang.org"
	DefaultGoReleases = "https://go.dev/dl/?mode=json"
	// GoReleasesToolchain, as the Go release list's address, reads the
	// releases from the module proxy's golang.org/toolchain versions.
	GoReleasesToolchain = "toolchain"

	requestTimeout  = 10 * time.Second
	maxLatestBody   = 64 << 10  // a @latest answer is a few hundred bytes
	maxListBody     = 512 << 10 // a @v/list of a module with thousands of versions
	maxReleasesBody = 4 << 20   // the release list with every file of the supported releases
	maxConcurrent   = 8
)

// Online is a Source asking a Go module proxy (the GOPROXY protocol:
// GET {Proxy}/{escaped module path}/@v/list lists the tagged versions,
// and /@latest answers {"Version":"v1.2.3"} for a module without one) and
// the Go release list at GoReleasesURL, or, when GoReleasesURL is
// GoReleasesToolchain, the proxy's own list of the golang.org/toolchain
// module (the Go releases the go command downloads). Each request has
// its own timeout and a bounded answer; no credentials, cookies or
// client certificates are sent, and an address carrying a user name or
// password is refused.
type Online struct {
	Proxy         string
	GoReleasesURL string
	Client        *http.Client // nil: a client with the request timeout
}

// NewOnline returns an online source, checking both addresses.
func NewOnline(proxy, goReleases string) (*Online, error) {
	o := &Online{Proxy: strings.TrimRight(proxy, "/"), GoReleasesURL: goReleases}
	addrs := []string{o.Proxy, o.GoReleasesURL}
	if goReleases == GoReleasesToolchain {
		addrs = addrs[:1]
	}
	for _, a := range addrs {
		u, err := url.Parse(a)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("vulncheck: %q is not an http(s) address", a)
		}
		if u.User != nil {
			return nil, fmt.Errorf("vulncheck: %s carries credentials; the currency check sends none", u.Redacted())
		}
	}
	return o, nil
}

func (o *Online) client() *http.Client {
	if o.Client != nil {
		return o.Client
	}
	return &http.Client{Timeout: requestTimeout}
}

// get fetches addr into v (JSON, or the text itself when v is a
// *string), reading at most limit bytes. found is false
// when the server answers 404 or 410 (how a proxy says it does not know
// a module).
func (o *Online) get(ctx context.Context, addr string, limit int64, v any) (found bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, addr, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := o.client().Do(req)
	if err != nil {
		return false, fmt.Errorf("vulncheck: cannot reach %s: %w", redact(addr), err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return false, nil
	case resp.StatusCode != http.StatusOK:
		return false, fmt.Errorf("vulncheck: %s answered %s", redact(addr), resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return false, fmt.Errorf("vulncheck: reading %s: %w", redact(addr), err)
	}
	if int64(len(body)) > limit {
		return false, fmt.Errorf("vulncheck: the answer of %s is larger than %d bytes", redact(addr), limit)
	}
	if t, ok := v.(*string); ok {
		*t = string(body)
		return true, nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return false, fmt.Errorf("vulncheck: the answer of %s is not the expected JSON: %w", redact(addr), err)
	}
	return true, nil
}

func redact(addr string) string {
	if u, err := url.Parse(addr); err == nil {
		u.RawQuery = ""
		return u.Redacted()
	}
	return addr
}

// Latest returns the module's latest tagged version in the proxy's
// @v/list, stable unless current is a pre-release (or a
// pseudo-version); for a module with no tagged version, the proxy's
// @latest (a pseudo-version). Retractions are not read.
func (o *Online) Latest(ctx context.Context, path, current string) (string, error) {
	esc, err := modpath.EscapePath(path)
	if err != nil {
		return "", fmt.Errorf("vulncheck: module path %q: %w", path, err)
	}
	var list string
	found, err := o.get(ctx, o.Proxy+"/"+esc+"/@v/list", maxListBody, &list)
	if err != nil {
		return "", err
	}
	if found {
		vs := strings.Fields(list)
		v := newest(vs, semver.Prerelease(canonical(current)) != "")
		if v != "" && semver.Compare(canonical(v), canonical(current)) > 0 {
			// Newer than the binary's: unless the module retracted it.
			retracted, err := o.retractions(ctx, esc, newest(vs, false))
			if err != nil {
				return "", err
			}
			vs = slices.DeleteFunc(vs, retracted)
			v = newest(vs, semver.Prerelease(canonical(current)) != "")
		}
		if v != "" {
			return v, nil
		}
	}
	var info struct{ Version string }
	if found, err = o.get(ctx, o.Proxy+"/"+esc+"/@latest", maxLatestBody, &info); err != nil || !found {
		return "", err
	}
	return info.Version, nil
}

// retractions reads the retract directives of the module's go.mod at
// version latest (as the go command does, from its latest version) and
// returns whether a version is retracted.
func (o *Online) retractions(ctx context.Context, esc, latest string) (func(string) bool, error) {
	none := func(string) bool { return false }
	ev, err := modpath.EscapeVersion(latest)
	if err != nil {
		return none, nil
	}
	var gomod string
	found, err := o.get(ctx, o.Proxy+"/"+esc+"/@v/"+ev+".mod", maxListBody, &gomod)
	if err != nil || !found {
		return none, err
	}
	f, err := modfile.ParseLax("go.mod", []byte(gomod), nil)
	if err != nil || len(f.Retract) == 0 {
		return none, nil // an unreadable go.mod retracts nothing we can tell
	}
	return func(v string) bool {
		c := canonical(v)
		for _, r := range f.Retract {
			if semver.Compare(c, canonical(r.Low)) >= 0 && semver.Compare(c, canonical(r.High)) <= 0 {
				return true
			}
		}
		return false
	}, nil
}

// newest returns the highest semantic version of vs: a stable one when
// there is any, unless prerelease is set; "" when vs has none.
func newest(vs []string, prerelease bool) string {
	var best, bestStable string
	for _, v := range vs {
		c := canonical(v)
		if c == "" {
			continue
		}
		if best == "" || semver.Compare(c, canonical(best)) > 0 {
			best = v
		}
		if semver.Prerelease(c) == "" && (bestStable == "" || semver.Compare(c, canonical(bestStable)) > 0) {
			bestStable = v
		}
	}
	if bestStable != "" && !prerelease {
		return bestStable
	}
	return best
}

// GoReleases fetches the Go release list, or derives it from the proxy's
// golang.org/toolchain versions ("v0.0.1-go1.26.8.linux-amd64").
func (o *Online) GoReleases(ctx context.Context) ([]GoRelease, error) {
	if o.GoReleasesURL == GoReleasesToolchain {
		return o.toolchainReleases(ctx)
	}
	var rels []GoRelease
	found, err := o.get(ctx, o.GoReleasesURL, maxReleasesBody, &rels)
	if err == nil && !found {
		err = fmt.Errorf("vulncheck: %s: no Go release list there (404)", redact(o.GoReleasesURL))
	}
	return rels, err
}

func (o *Online) toolchainReleases(ctx context.Context) ([]GoRelease, error) {
	var list string
	found, err := o.get(ctx, o.Proxy+"/golang.org/toolchain/@v/list", maxListBody, &list)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("vulncheck: %s does not list golang.org/toolchain", redact(o.Proxy))
	}
	seen := map[string]bool{}
	var rels []GoRelease
	for _, v := range strings.Fields(list) {
		rest, ok := strings.CutPrefix(v, "v0.0.1-")
		if !ok {
			continue
		}
		// "go1.26.8.linux-amd64": the release, then ".GOOS-GOARCH".
		i := strings.LastIndexByte(rest, '.')
		if i < 0 || !strings.Contains(rest[i:], "-") {
			continue
		}
		gv := rest[:i]
		if goSemver(gv) == "" || seen[gv] {
			continue
		}
		seen[gv] = true
		rels = append(rels, GoRelease{Version: gv, Stable: semver.Prerelease(goSemver(gv)) == ""})
	}
	if len(rels) == 0 {
		return nil, fmt.Errorf("vulncheck: %s lists no Go release under golang.org/toolchain", redact(o.Proxy))
	}
	return rels, nil
}

// latestAll asks src for the latest version of each module, at most
// maxConcurrent at a time; the first error stops the rest.
func latestAll(ctx context.Context, src Source, mods []Module) ([]string, error) {
	out := make([]string, len(mods))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(maxConcurrent)
	for i, m := range mods {
		g.Go(func() error {
			v, err := src.Latest(ctx, m.Path, m.Version)
			out[i] = v
			return err
		})
	}
	return out, g.Wait()
}

// Offline is a Source read from files: the output of
// `go list -m -u -json all` run in Portico's source tree (a stream of
// JSON objects with Path, Version and, when a newer one exists,
// Update.Version), and a saved copy of the Go release list
// (https://go.dev/dl/?mode=json).
type Offline struct {
	latest   map[string]string
	releases []GoRelease
}

// ReadOffline reads the two files.
func ReadOffline(updatesFile, goReleasesFile string) (*Offline, error) {
	o := &Offline{latest: map[string]string{}}
	b, err := os.ReadFile(updatesFile)
	if err != nil {
		return nil, fmt.Errorf("vulncheck: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	for n := 1; ; n++ {
		var m struct {
			Path, Version string
			Main          bool
			Update        *struct{ Version string }
		}
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("vulncheck: %s, object %d: not the output of go list -m -u -json all: %w", updatesFile, n, err)
		}
		if m.Main || m.Path == "" || m.Version == "" {
			continue
		}
		o.latest[m.Path] = m.Version
		if m.Update != nil && m.Update.Version != "" {
			o.latest[m.Path] = m.Update.Version
		}
	}
	if b, err = os.ReadFile(goReleasesFile); err != nil {
		return nil, fmt.Errorf("vulncheck: %w", err)
	}
	if err := json.Unmarshal(b, &o.releases); err != nil {
		return nil, fmt.Errorf("vulncheck: %s is not a Go release list (go.dev/dl/?mode=json): %w", goReleasesFile, err)
	}
	return o, nil
}

// Latest returns the module's version or update in the file, "" when
// the file does not list it.
func (o *Offline) Latest(_ context.Context, path, _ string) (string, error) {
	return o.latest[path], nil
}

// GoReleases returns the saved release list.
func (o *Offline) GoReleases(context.Context) ([]GoRelease, error) { return o.releases, nil }
