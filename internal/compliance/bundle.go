package compliance

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/buildinfo"
	"github.com/portico/portico/internal/db"
)

// BundleFormat names the layout of the evidence bundle; manifest.json
// carries it and VerifyBundle refuses any other.
const BundleFormat = "portico-evidence-bundle/1"

// The files of a bundle besides the ones the manifest lists.
const (
	manifestName  = "manifest.json"
	signatureName = "manifest.sig"
	publicKeyName = "public-key.pem"
	profileName   = "policy-profile.toml"
)

// bundleAnchors is how many evidence runs' chain heads audit-chain.json
// carries besides the head at the bundle's making.
const bundleAnchors = 20

// archiveSigPrefix starts the zip comment; the hex Ed25519 signature of
// every byte of the archive before the comment follows it. Its fixed
// length lets the bundle be written with a placeholder and then signed.
const archiveSigPrefix = BundleFormat + " archive-signature ed25519:"

// archiveCommentLen is the length of the whole zip comment.
const archiveCommentLen = len(archiveSigPrefix) + 2*ed25519.SignatureSize

// Manifest is manifest.json: what the bundle holds and where it comes
// from. manifest.sig is its raw Ed25519 signature.
type Manifest struct {
	Format    string    `json:"format"`
	CreatedAt time.Time `json:"created_at"`
	Version   string    `json:"portico_version"`
	// SigningKey is the fingerprint of the key that signed the bundle.
	SigningKey string `json:"signing_key"`
	// ChainHead is the audit chain's head when the bundle was made.
	ChainHead     ChainAnchor    `json:"chain_head"`
	Profile       string         `json:"profile"`
	ProfileDigest string         `json:"profile_digest"`
	Files         []ManifestFile `json:"files"`
}

// ManifestFile is one file of the bundle with its size and SHA-256 (hex).
type ManifestFile struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// ChainAnchor is an audit chain head as the bundle writes it: the
// sequence number and hex hash of the newest event.
type ChainAnchor struct {
	Seq  int64     `json:"seq"`
	Hash string    `json:"hash"`
	At   time.Time `json:"at,omitzero"`
	// Run is the evidence run that recorded it (in the anchors' list).
	Run string `json:"run,omitempty"`
}

func chainAnchor(a audit.Anchor) ChainAnchor {
	return ChainAnchor{Seq: a.Seq, Hash: hex.EncodeToString(a.Hash), At: a.At}
}

// Anchor turns the head back into the form audit.Log.Verify takes.
func (c ChainAnchor) Anchor() (audit.Anchor, error) {
	h, err := hex.DecodeString(c.Hash)
	if err != nil || len(h) != sha256.Size || c.Seq < 0 {
		return audit.Anchor{}, fmt.Errorf("chain head %d:%s is not SEQ:64-hex-digits", c.Seq, c.Hash)
	}
	return audit.Anchor{Seq: c.Seq, Hash: h}, nil
}

// BundleInfo describes a bundle just made.
type BundleInfo struct {
	Fingerprint    string       // the signing key's
	ManifestDigest string       // SHA-256 (hex) of manifest.json
	ChainHead      audit.Anchor // the audit chain's head it carries
	Files          int          // files in the archive
}

// buildInfoFile is build-info.json.
type buildInfoFile struct {
	Version   string        `json:"portico_version"`
	GoVersion string        `json:"go_version"`
	Revision  string        `json:"vcs_revision,omitempty"`
	Modified  bool          `json:"vcs_modified,omitempty"`
	Main      *moduleEntry  `json:"main,omitempty"`
	Modules   []moduleEntry `json:"modules"`
}

type moduleEntry struct {
	Path    string       `json:"path"`
	Version string       `json:"version,omitempty"`
	Sum     string       `json:"sum,omitempty"`
	Replace *moduleEntry `json:"replace,omitempty"`
}

func moduleOf(m *debug.Module) *moduleEntry {
	e := &moduleEntry{Path: m.Path, Version: m.Version, Sum: m.Sum}
	if m.Replace != nil {
		e.Replace = moduleOf(m.Replace)
	}
	return e
}

// readBuildInfo is the running binary's build information: Go version,
// the main module and every module compiled in, with versions and sums.
func readBuildInfo() buildInfoFile {
	bi := buildinfo.Read()
	out := buildInfoFile{Version: bi.Version, GoVersion: bi.GoVersion, Revision: bi.Revision, Modified: bi.Modified, Modules: []moduleEntry{}}
	if info, ok := debug.ReadBuildInfo(); ok {
		out.Main = moduleOf(&info.Main)
		for _, m := range info.Deps {
			out.Modules = append(out.Modules, *moduleOf(m))
		}
	}
	return out
}

// auditChainFile is audit-chain.json.
type auditChainFile struct {
	Head ChainAnchor `json:"head"`
	// Anchors are the heads the latest evidence runs recorded, newest
	// first: points an auditor can compare with copies kept elsewhere.
	Anchors []ChainAnchor `json:"anchors"`
}

// keysFile is keys.json: identifiers and fingerprints, never key material.
type keysFile struct {
	SigningKey  keyEntry   `json:"signing_key"`
	SigningKeys []keyEntry `json:"signing_keys"`
	// MasterKeyset is the keyset that wraps every data key and server
	// secret (the signing key's seed among them): its key IDs, not keys.
	MasterKeyset masterEntry `json:"master_keyset"`
}

type keyEntry struct {
	Fingerprint string    `json:"fingerprint"`
	Algorithm   string    `json:"algorithm"`
	CreatedAt   time.Time `json:"created_at"`
	RetiredAt   time.Time `json:"retired_at,omitzero"`
}

type masterEntry struct {
	PrimaryKeyID uint32    `json:"primary_key_id"`
	Keys         int       `json:"keys"`
	LastRotation time.Time `json:"last_rotation,omitzero"`
}

func keyEntryOf(k SigningKey) keyEntry {
	return keyEntry{Fingerprint: k.Fingerprint, Algorithm: "Ed25519", CreatedAt: k.CreatedAt, RetiredAt: k.RetiredAt}
}

func indentJSON(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Bundle makes the signed evidence bundle: a zip with the report (JSON and
// HTML) from the latest evidence, the effective policy profile, the
// binary's build information, the audit chain's head and the latest
// anchors, the key identifiers, the signing key's public half, and
// manifest.json with every other file's size and SHA-256, signed in
// manifest.sig. The zip comment signs every byte of the archive before
// it, so that nothing outside the files can change either. The making is
// audited (compliance.bundle) by actor.
//
// Enforces MTL-7.2: the evidence leaves the system in a form an external
// auditor verifies without trusting the operator (VerifyBundle, or
// openssl with the published key).
func (s *Service) Bundle(ctx context.Context, actor string) ([]byte, BundleInfo, error) {
	key, priv, err := s.signer(ctx)
	if err != nil {
		return nil, BundleInfo{}, err
	}
	rep, err := s.Report(ctx, 0)
	if err != nil {
		return nil, BundleInfo{}, err
	}
	rep.SigningKey = key.Fingerprint
	head, err := s.audit.Head(ctx)
	if err != nil {
		return nil, BundleInfo{}, err
	}
	runs, err := s.Runs(ctx, bundleAnchors)
	if err != nil {
		return nil, BundleInfo{}, err
	}
	keys, err := s.SigningKeys(ctx)
	if err != nil {
		return nil, BundleInfo{}, err
	}
	ks, err := s.keys.Status(ctx)
	if err != nil {
		return nil, BundleInfo{}, err
	}
	digest, profileTOML, err := ProfileDigest(s.profile)
	if err != nil {
		return nil, BundleInfo{}, err
	}
	// One time for every entry and the manifest, to the second (the zip
	// format's resolution): the same content makes the same layout.
	created := rep.GeneratedAt.UTC().Truncate(time.Second)

	type file struct {
		name string
		data []byte
	}
	var files []file
	var reportJSON, reportHTML bytes.Buffer
	if err := rep.WriteJSON(&reportJSON); err != nil {
		return nil, BundleInfo{}, err
	}
	if err := rep.WriteHTML(&reportHTML); err != nil {
		return nil, BundleInfo{}, err
	}
	files = append(files, file{"report.json", reportJSON.Bytes()}, file{"report.html", reportHTML.Bytes()},
		file{profileName, profileTOML})
	chain := auditChainFile{Head: chainAnchor(head), Anchors: []ChainAnchor{}}
	for _, r := range runs {
		a := chainAnchor(r.ChainHead)
		a.Run = r.ID
		chain.Anchors = append(chain.Anchors, a)
	}
	kf := keysFile{SigningKey: keyEntryOf(key),
		MasterKeyset: masterEntry{PrimaryKeyID: ks.PrimaryKeyID, Keys: ks.MasterKeys, LastRotation: ks.LastRotation}}
	for _, k := range keys {
		kf.SigningKeys = append(kf.SigningKeys, keyEntryOf(k))
	}
	for _, f := range []struct {
		name string
		v    any
	}{{"build-info.json", readBuildInfo()}, {"audit-chain.json", chain}, {"keys.json", kf}} {
		b, err := indentJSON(f.v)
		if err != nil {
			return nil, BundleInfo{}, err
		}
		files = append(files, file{f.name, b})
	}
	files = append(files, file{publicKeyName, key.PEM()})

	man := Manifest{Format: BundleFormat, CreatedAt: created, Version: rep.Version, SigningKey: key.Fingerprint,
		ChainHead: chainAnchor(head), Profile: s.profile.Name, ProfileDigest: digest}
	for _, f := range files {
		sum := sha256.Sum256(f.data)
		man.Files = append(man.Files, ManifestFile{Name: f.name, Size: int64(len(f.data)), SHA256: hex.EncodeToString(sum[:])})
	}
	manJSON, err := indentJSON(man)
	if err != nil {
		return nil, BundleInfo{}, err
	}
	files = append(files, file{manifestName, manJSON}, file{signatureName, ed25519.Sign(priv, manJSON)})

	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: created})
		if err != nil {
			return nil, BundleInfo{}, err
		}
		if _, err := w.Write(f.data); err != nil {
			return nil, BundleInfo{}, err
		}
	}
	if err := zw.SetComment(archiveSigPrefix + string(make([]byte, 2*ed25519.SignatureSize))); err != nil {
		return nil, BundleInfo{}, err
	}
	if err := zw.Close(); err != nil {
		return nil, BundleInfo{}, err
	}
	data := buf.Bytes()
	signed := len(data) - archiveCommentLen
	hex.Encode(data[signed+len(archiveSigPrefix):], ed25519.Sign(priv, data[:signed]))

	manSum := sha256.Sum256(manJSON)
	info := BundleInfo{Fingerprint: key.Fingerprint, ManifestDigest: hex.EncodeToString(manSum[:]), ChainHead: head, Files: len(files)}
	err = s.db.Transact(ctx, func(tx *db.Tx) error {
		_, err := s.audit.Append(ctx, tx, audit.Event{
			Actor: actor, Action: "compliance.bundle", Target: "signing-key:" + key.Fingerprint, Outcome: audit.Success,
			Details: map[string]any{"fingerprint": key.Fingerprint, "manifest_sha256": info.ManifestDigest, "chain_seq": head.Seq},
		})
		return err
	})
	if err != nil {
		return nil, BundleInfo{}, err
	}
	return data, info, nil
}

// archiveSigned splits a bundle into the bytes the archive signature
// covers and the signature, or says why it cannot.
func archiveSigned(data []byte) (signed, sig []byte, ok bool) {
	const eocdLen = 22 // end of central directory record without its comment
	n := len(data) - archiveCommentLen
	if n < eocdLen {
		return nil, nil, false
	}
	eocd := data[n-eocdLen : n]
	if binary.LittleEndian.Uint32(eocd) != 0x06054b50 || int(binary.LittleEndian.Uint16(eocd[20:])) != archiveCommentLen {
		return nil, nil, false
	}
	comment := data[n:]
	if !bytes.HasPrefix(comment, []byte(archiveSigPrefix)) {
		return nil, nil, false
	}
	text := comment[len(archiveSigPrefix):]
	sig = make([]byte, ed25519.SignatureSize)
	if _, err := hex.Decode(sig, text); err != nil {
		return nil, nil, false
	}
	// hex accepts both cases: only the form Bundle writes is the
	// signature, so that no byte of the comment can change.
	if hex.EncodeToString(sig) != string(text) {
		return nil, nil, false
	}
	return data[:n], sig, true
}
