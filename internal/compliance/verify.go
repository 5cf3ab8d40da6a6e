package compliance

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/portico/portico/internal/audit"
)

// maxBundleFile bounds what VerifyBundle decompresses from one entry, so
// that a crafted archive cannot exhaust memory.
const maxBundleFile = 64 << 20

// BundleVerification is what VerifyBundle found.
type BundleVerification struct {
	// OK is true when every check passed; Problems says what failed, one
	// sentence each, naming the file or part of the bundle.
	OK       bool
	Problems []string
	// Manifest is the bundle's manifest (zero when it could not be read).
	Manifest Manifest
	// Fingerprint is the fingerprint of the key the bundle was checked
	// with. KeyFromBundle is true when no key was given and the bundle's
	// own public-key.pem was used: that proves the bundle is intact, not
	// who made it: compare Fingerprint with the installation's published
	// key.
	Fingerprint   string
	KeyFromBundle bool
}

func (v *BundleVerification) problem(format string, args ...any) {
	v.Problems = append(v.Problems, fmt.Sprintf(format, args...))
}

// VerifyBundle checks an evidence bundle offline: that the archive
// reads, that manifest.json is signed by pub (manifest.sig), that every
// file it lists is in the archive with its size and SHA-256, that no
// other file is, and that the archive signature in the zip comment covers
// every other byte (headers, directory, comment). pub nil uses the
// bundle's own public-key.pem (integrity only: see KeyFromBundle); a pub
// that differs from the bundle's public-key.pem fails, naming both
// fingerprints.
//
// The error is nil when the bundle is valid, and otherwise the first
// problem; v.Problems has them all.
//
// Enforces MTL-7.2: any edit of any byte of the bundle fails
// verification with a message naming what failed.
func VerifyBundle(data []byte, pub ed25519.PublicKey) (BundleVerification, error) {
	v := verifyBundle(data, pub)
	v.OK = len(v.Problems) == 0
	if !v.OK {
		return v, errors.New(v.Problems[0])
	}
	return v, nil
}

func verifyBundle(data []byte, pub ed25519.PublicKey) (v BundleVerification) {
	if pub != nil && len(pub) != ed25519.PublicKeySize {
		v.problem("the public key given is not an Ed25519 key")
		return v
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		v.problem("the bundle is not a readable zip archive: %v", err)
		if pub != nil {
			v.Fingerprint = Fingerprint(pub)
			checkArchiveSignature(&v, data, pub)
		}
		return v
	}
	entries := map[string]*zip.File{}
	for _, f := range zr.File {
		if entries[f.Name] != nil {
			v.problem("%s: the archive holds two files of this name", f.Name)
			continue
		}
		entries[f.Name] = f
	}
	read := func(name string) ([]byte, error) {
		f := entries[name]
		if f == nil {
			return nil, errors.New("missing from the archive")
		}
		rc, err := f.Open()
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		b, err := io.ReadAll(io.LimitReader(rc, maxBundleFile+1))
		if err != nil {
			return nil, err
		}
		if len(b) > maxBundleFile {
			return nil, fmt.Errorf("larger than %d bytes", maxBundleFile)
		}
		return b, nil
	}

	// The key: the one given, which must be the bundle's own, or else the
	// bundle's own.
	var bundleKey ed25519.PublicKey
	if b, err := read(publicKeyName); err != nil {
		v.problem("%s: %v", publicKeyName, err)
	} else if bundleKey, err = ParsePublicKey(b); err != nil {
		v.problem("%s: %v", publicKeyName, err)
	}
	switch {
	case pub != nil:
		if bundleKey != nil && !bundleKey.Equal(pub) {
			v.problem("%s: the bundle's public key (fingerprint %s) is not the key given (fingerprint %s)",
				publicKeyName, Fingerprint(bundleKey), Fingerprint(pub))
		}
	case bundleKey != nil:
		pub, v.KeyFromBundle = bundleKey, true
	default:
		v.problem("no key to check the signatures with: give the installation's public key")
		return v
	}
	v.Fingerprint = Fingerprint(pub)

	manJSON, err := read(manifestName)
	if err != nil {
		v.problem("%s: %v", manifestName, err)
	} else {
		sig, err := read(signatureName)
		switch {
		case err != nil:
			v.problem("%s: %v", signatureName, err)
		case len(sig) != ed25519.SignatureSize || !ed25519.Verify(pub, manJSON, sig):
			v.problem("%s: the signature of %s does not verify with the key of fingerprint %s", signatureName, manifestName, v.Fingerprint)
		}
		dec := json.NewDecoder(bytes.NewReader(manJSON))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&v.Manifest); err != nil {
			v.problem("%s: does not parse: %v", manifestName, err)
			v.Manifest = Manifest{}
		} else {
			checkManifest(&v, read, entries)
		}
	}
	checkArchiveSignature(&v, data, pub)
	return v
}

// checkManifest checks the files the manifest lists against the archive.
func checkManifest(v *BundleVerification, read func(string) ([]byte, error), entries map[string]*zip.File) {
	m := v.Manifest
	if m.Format != BundleFormat {
		v.problem("%s: format %q, want %q", manifestName, m.Format, BundleFormat)
	}
	if m.SigningKey != v.Fingerprint {
		v.problem("%s: names signing key %s, but the key checked is %s", manifestName, m.SigningKey, v.Fingerprint)
	}
	listed := map[string]bool{manifestName: true, signatureName: true}
	for _, f := range m.Files {
		if listed[f.Name] {
			v.problem("%s: lists %s twice", manifestName, f.Name)
			continue
		}
		listed[f.Name] = true
		b, err := read(f.Name)
		if err != nil {
			v.problem("%s: %v", f.Name, err)
			continue
		}
		sum := sha256.Sum256(b)
		switch {
		case int64(len(b)) != f.Size:
			v.problem("%s: %d bytes, the manifest says %d", f.Name, len(b), f.Size)
		case hex.EncodeToString(sum[:]) != f.SHA256:
			v.problem("%s: its SHA-256 is not the one in the manifest (the file was changed)", f.Name)
		}
		if f.Name == profileName && hex.EncodeToString(sum[:]) != m.ProfileDigest {
			v.problem("%s: its SHA-256 is not the manifest's profile digest", f.Name)
		}
	}
	var extra []string
	for name := range entries {
		if !listed[name] {
			extra = append(extra, name)
		}
	}
	slices.Sort(extra)
	for _, name := range extra {
		v.problem("%s: is in the archive but not in the manifest", name)
	}
}

// checkArchiveSignature checks the zip comment's signature of every byte
// before it.
func checkArchiveSignature(v *BundleVerification, data []byte, pub ed25519.PublicKey) {
	signed, sig, ok := archiveSigned(data)
	if !ok {
		v.problem("the archive signature (zip comment) is missing or altered")
		return
	}
	if !ed25519.Verify(pub, signed, sig) {
		if len(v.Problems) > 0 {
			v.problem("the archive signature does not verify: the archive was changed")
			return
		}
		// Every file matched its digest: what changed lies between them.
		v.problem("the archive signature does not verify: bytes outside the files (zip headers or comment) were changed")
	}
}

// ChainResult is what VerifyChain found: the walk of the chain, and in
// words what broke ("" when the bundle's head is part of the chain).
type ChainResult struct {
	audit.VerifyResult
	Problem string
}

// VerifyChain checks, with the installation's database, that the bundle's
// chain head is part of today's audit chain: the whole chain verifies and
// still holds the bundle's head event with its hash, so nothing recorded
// before the bundle was made has been rewritten, deleted or cut off
// since. A broken chain is a result (Problem says what broke); the error
// is for a walk that could not finish.
//
// Enforces CP-5.3, MTL-7.2: a bundle is an anchor of the audit chain kept
// outside the database, by the auditor.
func VerifyChain(ctx context.Context, l *audit.Log, m Manifest) (ChainResult, error) {
	head, err := m.ChainHead.Anchor()
	if err != nil {
		return ChainResult{Problem: fmt.Sprintf("%s: %v", manifestName, err)}, nil
	}
	opts := audit.VerifyOptions{}
	if head.Seq > 0 {
		opts.Anchor = &head
	}
	res, err := l.Verify(ctx, opts)
	if err != nil {
		return ChainResult{}, err
	}
	out := ChainResult{VerifyResult: res}
	if !res.OK {
		out.Problem = fmt.Sprintf("the audit chain does not hold the bundle's head %d:%s: broken at event %d: %s",
			head.Seq, m.ChainHead.Hash, res.BrokenAt, res.Reason)
	}
	return out, nil
}
