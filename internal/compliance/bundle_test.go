package compliance_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	osexec "os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/compliance"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
)

// bundleFiles is every file a bundle holds, in its order.
var bundleFiles = []string{"report.json", "report.html", "policy-profile.toml", "build-info.json",
	"audit-chain.json", "keys.json", "public-key.pem", "manifest.json", "manifest.sig"}

// makeBundle takes the evidence and makes a bundle in w.
func makeBundle(t *testing.T, w *world) ([]byte, compliance.BundleInfo) {
	t.Helper()
	ctx := context.Background()
	if _, err := w.svc.TakeEvidence(ctx, compliance.FromCLI, audit.ActorCLI); err != nil {
		t.Fatal(err)
	}
	data, info, err := w.svc.Bundle(ctx, audit.ActorCLI)
	if err != nil {
		t.Fatal(err)
	}
	return data, info
}

// unzip returns the bundle's files by name.
func unzip(t *testing.T, data []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[f.Name] = b
	}
	return out
}

// rezip writes the bundle again as someone editing it would: each file
// through edit (drop false leaves it out), then extra files, with the
// original comment.
func rezip(t *testing.T, data []byte, edit func(name string, b []byte) (out []byte, keep bool), extra map[string][]byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	write := func(h zip.FileHeader, b []byte) {
		fw, err := zw.CreateHeader(&h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fw.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	files := unzip(t, data)
	for _, f := range zr.File {
		b, keep := edit(f.Name, files[f.Name])
		if keep {
			write(zip.FileHeader{Name: f.Name, Method: f.Method, Modified: f.Modified}, b)
		}
	}
	for name, b := range extra {
		write(zip.FileHeader{Name: name, Method: zip.Deflate}, b)
	}
	if err := zw.SetComment(zr.Comment); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// wantInvalid fails the test unless the bundle fails verification with
// pub, its first problem naming want.
func wantInvalid(t *testing.T, what string, data []byte, pub ed25519.PublicKey, want string) {
	t.Helper()
	v, err := compliance.VerifyBundle(data, pub)
	if err == nil || v.OK {
		t.Fatalf("%s: verified", what)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("%s: error %q does not name %q (all: %q)", what, err, want, v.Problems)
	}
}

// TestBundleRoundTrip (MTL-7.2): the bundle made from the running system
// holds the report, the profile, the build, the audit chain head and the
// key fingerprints, verifies with the installation's key and with its own,
// is audited, carries no key material, and verifies with openssl alone.
func TestBundleRoundTrip(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		w := newWorld(t, d, nil)
		data, info := makeBundle(t, w)
		key, err := w.svc.SigningKey(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.Fingerprint != key.Fingerprint || info.Files != len(bundleFiles) {
			t.Fatalf("info %+v, key %s", info, key.Fingerprint)
		}

		v, err := compliance.VerifyBundle(data, key.Public)
		if err != nil || !v.OK || v.KeyFromBundle || v.Fingerprint != key.Fingerprint {
			t.Fatalf("verify with the key: %v %+v", err, v)
		}
		v, err = compliance.VerifyBundle(data, nil)
		if err != nil || !v.OK || !v.KeyFromBundle || v.Fingerprint != key.Fingerprint {
			t.Fatalf("verify with its own key: %v %+v", err, v)
		}

		files := unzip(t, data)
		var names []string
		for n := range files {
			names = append(names, n)
		}
		slices.Sort(names)
		want := slices.Sorted(slices.Values(bundleFiles))
		if !slices.Equal(names, want) {
			t.Fatalf("files %v, want %v", names, want)
		}
		var man compliance.Manifest
		if err := json.Unmarshal(files["manifest.json"], &man); err != nil {
			t.Fatal(err)
		}
		digest, toml, err := compliance.ProfileDigest(w.svc.Profile())
		if err != nil {
			t.Fatal(err)
		}
		if man.Format != compliance.BundleFormat || man.SigningKey != key.Fingerprint || man.ProfileDigest != digest ||
			!bytes.Equal(files["policy-profile.toml"], toml) || man.ChainHead.Seq != info.ChainHead.Seq || len(man.Files) != len(bundleFiles)-2 {
			t.Fatalf("manifest %+v", man)
		}
		var rep compliance.Report
		if err := json.Unmarshal(files["report.json"], &rep); err != nil || rep.SigningKey != key.Fingerprint || rep.Run == nil {
			t.Fatalf("report.json: %v %+v", err, rep.SigningKey)
		}
		var chain struct {
			Head    compliance.ChainAnchor   `json:"head"`
			Anchors []compliance.ChainAnchor `json:"anchors"`
		}
		if err := json.Unmarshal(files["audit-chain.json"], &chain); err != nil || chain.Head != man.ChainHead ||
			len(chain.Anchors) != 1 || chain.Anchors[0].Run != rep.Run.ID {
			t.Fatalf("audit-chain.json: %v %+v", err, chain)
		}
		if !strings.Contains(string(files["build-info.json"]), `"go_version"`) ||
			!strings.Contains(string(files["keys.json"]), key.Fingerprint) ||
			!strings.Contains(string(files["keys.json"]), `"primary_key_id"`) {
			t.Fatalf("build-info.json or keys.json:\n%s\n%s", files["build-info.json"], files["keys.json"])
		}
		// Never key material: no private key, no seed.
		seed, err := w.st.Keyring.Secret(ctx, "compliance-signing:"+key.ID)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte("PRIVATE")) || bytes.Contains(data, seed) {
			t.Fatal("the bundle holds key material")
		}
		for name, b := range files {
			if bytes.Contains(b, seed) || bytes.Contains(b, []byte("PRIVATE")) {
				t.Fatalf("%s holds key material", name)
			}
		}

		evs, err := w.st.Audit.Search(ctx, audit.Filter{Action: "compliance.bundle"})
		if err != nil || len(evs) != 1 || !strings.Contains(string(evs[0].Details), info.ManifestDigest) {
			t.Fatalf("bundle events: %v %+v", err, evs)
		}

		// An auditor without Portico: openssl checks manifest.sig with
		// the public key, and refuses an edited manifest.
		if _, err := osexec.LookPath("openssl"); err != nil {
			t.Log("openssl not on PATH: the check without Portico is skipped")
			return
		}
		dir := t.TempDir()
		for _, n := range []string{"public-key.pem", "manifest.json", "manifest.sig"} {
			if err := os.WriteFile(filepath.Join(dir, n), files[n], 0o600); err != nil {
				t.Fatal(err)
			}
		}
		openssl := func(manifest string) (string, error) {
			cmd := osexec.Command("openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "public-key.pem", "-rawin",
				"-in", manifest, "-sigfile", "manifest.sig")
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			return string(out), err
		}
		if out, err := openssl("manifest.json"); err != nil || !strings.Contains(out, "Signature Verified Successfully") {
			t.Fatalf("openssl: %v %s", err, out)
		}
		edited := bytes.Replace(files["manifest.json"], []byte(`"size"`), []byte(`"Size"`), 1)
		if err := os.WriteFile(filepath.Join(dir, "edited.json"), edited, 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := openssl("edited.json"); err == nil {
			t.Fatalf("openssl verified an edited manifest: %s", out)
		}
		// The archive signature too: the zip comment's last 128 hex
		// digits sign every byte before the comment (docs/evidence-bundle.md).
		const commentLen = len(compliance.BundleFormat+" archive-signature ed25519:") + 128
		if commentLen != 180 {
			t.Fatalf("the comment is %d bytes; docs/evidence-bundle.md says 180", commentLen)
		}
		sig, err := hex.DecodeString(string(data[len(data)-128:]))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "signed.bin"), data[:len(data)-commentLen], 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "manifest.sig"), sig, 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := openssl("signed.bin"); err != nil || !strings.Contains(out, "Signature Verified Successfully") {
			t.Fatalf("openssl, archive signature: %v %s", err, out)
		}
	})
}

// TestBundleTamperingIsNamed (MTL-7.2): one byte changed in any file, a
// file added or removed, the manifest edited, either signature altered,
// or another key: verification fails and says what failed.
func TestBundleTamperingIsNamed(t *testing.T) {
	d := dbtest.SQLite(t, dbtest.Options{})
	w := newWorld(t, d, nil)
	data, _ := makeBundle(t, w)
	key, err := w.svc.SigningKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	pub := key.Public
	for _, name := range bundleFiles {
		t.Run("one byte of "+name, func(t *testing.T) {
			tampered := rezip(t, data, func(n string, b []byte) ([]byte, bool) {
				if n == name {
					b = bytes.Clone(b)
					b[len(b)/2] ^= 0x04
				}
				return b, true
			}, nil)
			wantInvalid(t, name, tampered, pub, name)
			// Without the key the bundle's own is used: still invalid.
			if _, err := compliance.VerifyBundle(tampered, nil); err == nil {
				t.Fatalf("%s changed: verified with the bundle's own key", name)
			}
		})
	}
	t.Run("file added", func(t *testing.T) {
		tampered := rezip(t, data, func(_ string, b []byte) ([]byte, bool) { return b, true },
			map[string][]byte{"notes.txt": []byte("all clauses enforced")})
		wantInvalid(t, "extra file", tampered, pub, "notes.txt: is in the archive but not in the manifest")
	})
	t.Run("file removed", func(t *testing.T) {
		tampered := rezip(t, data, func(n string, b []byte) ([]byte, bool) { return b, n != "keys.json" }, nil)
		wantInvalid(t, "removed file", tampered, pub, "keys.json: missing")
	})
	t.Run("manifest edited to match an edited file", func(t *testing.T) {
		files := unzip(t, data)
		var man compliance.Manifest
		if err := json.Unmarshal(files["manifest.json"], &man); err != nil {
			t.Fatal(err)
		}
		man.Files = man.Files[1:] // report.json dropped from the manifest
		edited, err := json.MarshalIndent(man, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		tampered := rezip(t, data, func(n string, b []byte) ([]byte, bool) {
			if n == "manifest.json" {
				return edited, true
			}
			return b, true
		}, nil)
		wantInvalid(t, "edited manifest", tampered, pub, "manifest.sig: the signature of manifest.json does not verify")
	})
	t.Run("archive comment altered", func(t *testing.T) {
		for _, at := range []int{1, 20, len(compliance.BundleFormat) + 30, 70} {
			tampered := bytes.Clone(data)
			tampered[len(tampered)-at] ^= 0x01
			wantInvalid(t, "comment", tampered, pub, "archive signature")
		}
		// hex accepts capitals: a case change is still a change.
		tampered := bytes.Clone(data)
		i := bytes.LastIndexAny(tampered, "abcdef")
		tampered[i] -= 'a' - 'A'
		wantInvalid(t, "comment case", tampered, pub, "archive signature")
		// Bytes appended after the comment.
		wantInvalid(t, "appended", append(bytes.Clone(data), 0), pub, "archive signature")
	})
	t.Run("another key", func(t *testing.T) {
		other, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		wantInvalid(t, "other key", data, other, "is not the key given (fingerprint "+compliance.Fingerprint(other)+")")
		// A bundle re-signed with another key and carrying it verifies
		// for integrity only: the fingerprint is what tells.
		v, err := compliance.VerifyBundle(data, nil)
		if err != nil || !v.KeyFromBundle || v.Fingerprint != key.Fingerprint {
			t.Fatalf("own key: %v %+v", err, v)
		}
	})
	t.Run("not a zip", func(t *testing.T) {
		wantInvalid(t, "garbage", []byte("hello"), pub, "not a readable zip archive")
		wantInvalid(t, "garbage without key", []byte("hello"), nil, "not a readable zip archive")
	})
}

// TestBundleEveryByteCounts (MTL-7.2): a bit flipped anywhere in the raw
// archive (every header, the central directory, the comment, and a sample
// of the compressed data) fails verification: the files' digests cover
// their content and the archive signature everything else.
func TestBundleEveryByteCounts(t *testing.T) {
	d := dbtest.SQLite(t, dbtest.Options{})
	w := newWorld(t, d, nil)
	data, _ := makeBundle(t, w)
	key, err := w.svc.SigningKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	positions := map[int]bool{}
	for i := 0; i < len(data); i += 997 {
		positions[i] = true
	}
	// Every local header and data descriptor, and everything from the
	// central directory on.
	for _, f := range zr.File {
		off, err := f.DataOffset()
		if err != nil {
			t.Fatal(err)
		}
		start := int(off) - 30 - len(f.Name) - 16 // with the timestamp's extra field
		for i := max(start, 0); i < int(off); i++ {
			positions[i] = true
		}
		end := int(off) + int(f.CompressedSize64)
		for i := end - 4; i < min(end+24, len(data)); i++ {
			positions[i] = true
		}
	}
	last := zr.File[len(zr.File)-1]
	off, _ := last.DataOffset()
	for i := int(off) + int(last.CompressedSize64); i < len(data); i++ {
		positions[i] = true
	}
	// The positions are shared out among workers, each flipping bits in
	// its own copy.
	work := make(chan int)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		passed []int
	)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			tampered := bytes.Clone(data)
			for i := range work {
				bit := byte(1) << (i % 8)
				tampered[i] ^= bit
				if v, err := compliance.VerifyBundle(tampered, key.Public); err == nil || v.OK {
					mu.Lock()
					passed = append(passed, i)
					mu.Unlock()
				}
				tampered[i] ^= bit
			}
		})
	}
	for i := range positions {
		work <- i
	}
	close(work)
	wg.Wait()
	if len(passed) > 0 {
		slices.Sort(passed)
		t.Fatalf("a bit flipped at bytes %v of %d: verified", passed, len(data))
	}
	t.Logf("%d positions of %d flipped, each caught", len(positions), len(data))
}

// TestBundleAfterRotation (MTL-7.2): a bundle signed before a rotation
// still verifies with the retired key, which the installation keeps
// publishing; a new bundle is signed with the new key.
func TestBundleAfterRotation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		w := newWorld(t, d, nil)
		before, old := makeBundle(t, w)
		if _, err := w.svc.RotateSigningKey(ctx, audit.ActorCLI); err != nil {
			t.Fatal(err)
		}
		after, cur := makeBundle(t, w)
		if cur.Fingerprint == old.Fingerprint {
			t.Fatal("new bundle signed with the retired key")
		}
		keys, err := w.svc.SigningKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		byFP := map[string]compliance.SigningKey{}
		for _, k := range keys {
			byFP[k.Fingerprint] = k
		}
		if k := byFP[old.Fingerprint]; k.Current() || k.Public == nil {
			t.Fatalf("old key %+v", k)
		}
		if _, err := compliance.VerifyBundle(before, byFP[old.Fingerprint].Public); err != nil {
			t.Fatalf("old bundle with the retired key: %v", err)
		}
		if _, err := compliance.VerifyBundle(after, byFP[cur.Fingerprint].Public); err != nil {
			t.Fatalf("new bundle with the new key: %v", err)
		}
		wantInvalid(t, "old bundle with the new key", before, byFP[cur.Fingerprint].Public, "is not the key given")
	})
}

// TestBundleChainHead (CP-5.3, MTL-7.2): with the database, the bundle's
// chain head is checked against today's chain: it passes on the live
// chain (with events added since), and fails once anything recorded
// before the head is changed, or the chain is cut back and its head
// moved, which the chain alone cannot tell.
func TestBundleChainHead(t *testing.T) {
	cases := []struct {
		name   string
		tamper func(t *testing.T, w *world, head audit.Anchor)
		want   string
	}{
		{"live chain", nil, ""},
		{"event before the head edited", func(t *testing.T, w *world, head audit.Anchor) {
			dropAuditTriggers(t, w.st.DB)
			exec(t, w.st.DB, `UPDATE audit_events SET target = 'account:someone-else' WHERE seq = $1`, head.Seq-1)
		}, "broken at event"},
		{"chain cut back before the head", func(t *testing.T, w *world, head audit.Anchor) {
			// Cut the chain back to before the bundle's head and move the
			// head there: the chain alone still verifies.
			keep := head.Seq - 2
			var hash []byte
			if err := w.st.DB.QueryRowContext(context.Background(), `SELECT hash FROM audit_events WHERE seq = $1`, keep).Scan(&hash); err != nil {
				t.Fatal(err)
			}
			dropAuditTriggers(t, w.st.DB)
			exec(t, w.st.DB, `DELETE FROM audit_events WHERE seq > $1`, keep)
			exec(t, w.st.DB, `UPDATE audit_head SET seq = $1, hash = $2`, keep, hash)
			if res, err := w.st.Audit.Verify(context.Background(), audit.VerifyOptions{}); err != nil || !res.OK {
				t.Fatalf("the cut chain alone: %v %+v (want it to look intact)", err, res)
			}
		}, "does not hold the bundle's head"},
	}
	dbtest.Each(t, func(t *testing.T, d0 *db.DB) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				ctx := context.Background()
				d := dbtest.SQLite(t, dbtest.Options{})
				if d0.Dialect() == db.Postgres {
					d = dbtest.Postgres(t, dbtest.Options{})
				}
				w := newWorld(t, d, nil)
				for range 5 {
					if _, err := w.st.Audit.Record(ctx, audit.Event{Actor: audit.ActorCLI, Action: "test.event", Target: "test", Outcome: audit.Success}); err != nil {
						t.Fatal(err)
					}
				}
				data, info := makeBundle(t, w)
				v, err := compliance.VerifyBundle(data, nil)
				if err != nil {
					t.Fatal(err)
				}
				// Events recorded after the bundle do not matter.
				if _, err := w.svc.TakeEvidence(ctx, compliance.OnDemand, audit.ActorSystem); err != nil {
					t.Fatal(err)
				}
				if tc.tamper != nil {
					tc.tamper(t, w, info.ChainHead)
				}
				res, err := compliance.VerifyChain(ctx, w.st.Audit, v.Manifest)
				if err != nil {
					t.Fatal(err)
				}
				if tc.want == "" {
					if !res.OK || res.Problem != "" {
						t.Fatalf("live chain: %+v", res)
					}
					return
				}
				if res.OK || !strings.Contains(res.Problem, tc.want) {
					t.Fatalf("got %+v, want a problem with %q", res, tc.want)
				}
			})
		}
	})
}
