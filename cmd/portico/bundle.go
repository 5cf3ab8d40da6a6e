package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/portico/portico/internal/app"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/compliance"
	"github.com/portico/portico/internal/config"
)

// maxBundleSize bounds the bundle `compliance verify` reads into memory.
const maxBundleSize = 512 << 20

// openCompliance opens the installation for a compliance command: the
// storage, the services and the compliance service, creating nothing.
// The caller closes it.
func openCompliance(ctx context.Context, e env, cfg config.Config) (*app.Compliance, error) {
	return app.OpenCompliance(ctx, cfg, app.NewLogger(e.stderr, cfg.LogFormat, cfg.LogLevel))
}

// positional takes the one FILE argument of a command out of args, where
// it may stand before, between or after the flags, and returns it with the
// flags alone for Load. It parses the flags once to tell a flag's value
// from the FILE argument; Load parses them again.
func positional(l *config.Loader, args []string, what string) (string, []string, error) {
	fs := l.FlagSet()
	var flags []string
	rest := args
	file := ""
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				l.PrintUsage()
				return "", nil, config.ErrHelp
			}
			return "", nil, &config.UsageError{Msg: err.Error()}
		}
		left := fs.Args()
		flags = append(flags, rest[:len(rest)-len(left)]...)
		if len(left) == 0 {
			break
		}
		if file != "" {
			return "", nil, usageErr("unexpected argument %q: give one %s", left[0], what)
		}
		file, rest = left[0], left[1:]
	}
	if file == "" {
		return "", nil, usageErr("want the %s to check: portico compliance verify FILE (see --help)", what)
	}
	return file, flags, nil
}

func cmdComplianceBundle(ctx context.Context, e env, args []string) error {
	l := config.NewLoader("compliance bundle", `Usage: portico compliance bundle --output FILE [--take-evidence] [flags]

Writes the signed evidence bundle (docs/evidence-bundle.md): a zip with the
compliance report (JSON and HTML) from the latest evidence, the effective
policy profile and its digest, the binary's build information, the audit
chain's head and the latest anchors, the key fingerprints, the signing
key's public half, and manifest.json with the SHA-256 of every file,
signed with the installation's Ed25519 evidence key (created on first
use). An auditor checks it with portico compliance verify, or with openssl.
--take-evidence takes the evidence now first. The making is audited.`, config.Storage|config.Policy|config.Server, e.stdout)
	output := l.FlagSet().String("output", "", "write the bundle to this `file` (created 0600; must not exist)")
	take := l.FlagSet().Bool("take-evidence", false, "take the evidence of every clause now, before the bundle")
	cfg, err := load(e, l, args)
	if err != nil {
		return err
	}
	if *output == "" {
		return usageErr("--output is required: the file to write the bundle to")
	}
	c, err := openCompliance(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	if *take {
		run, err := c.Service.TakeEvidence(ctx, compliance.FromCLI, audit.ActorCLI)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "evidence taken: %d passed, %d warned, %d failed\n", run.Passed, run.Warned, run.Failed)
	}
	data, info, err := c.Service.Bundle(ctx, audit.ActorCLI)
	if err != nil {
		return err
	}
	if err := writeNew(*output, data); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "evidence bundle written to %s: %d files, %d bytes\n", *output, info.Files, len(data))
	fmt.Fprintf(e.stdout, "signed by evidence key %s\n", info.Fingerprint)
	fmt.Fprintf(e.stdout, "audit chain head %s\n", info.ChainHead)
	fmt.Fprintf(e.stdout, "manifest SHA-256 %s\n", info.ManifestDigest)
	return nil
}

// writeNew writes data to a file that must not exist yet, removing it
// again when the write fails.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("--output %s: %w", path, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("--output %s: %w", path, err)
	}
	return nil
}

func cmdComplianceRotateKey(ctx context.Context, e env, args []string) error {
	l := config.NewLoader("compliance rotate-key", `Usage: portico compliance rotate-key [flags]

Makes a new Ed25519 key to sign evidence bundles and retires the current
one. The retired key stays published (/.well-known/portico-evidence-keys.json)
so that the bundles it signed still verify. The rotation is audited.`, config.Storage|config.Policy, e.stdout)
	cfg, err := load(e, l, args)
	if err != nil {
		return err
	}
	// The key needs the storage and the keyring, not the services that
	// the evidence checks read.
	st, err := app.OpenStorage(ctx, cfg, app.Existing, app.NewLogger(e.stderr, cfg.LogFormat, cfg.LogLevel))
	if err != nil {
		return err
	}
	defer st.Close()
	svc, err := compliance.New(st.DB, st.Audit, st.Profile, nil, nil)
	if err != nil {
		return err
	}
	svc.SetKeyring(st.Keyring)
	k, err := svc.RotateSigningKey(ctx, audit.ActorCLI)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "evidence signing key rotated: new key %s\n", k.Fingerprint)
	return nil
}

func cmdComplianceVerify(ctx context.Context, e env, args []string) error {
	l := config.NewLoader("compliance verify", `Usage: portico compliance verify FILE [--public-key FILE] [--chain] [flags]

Checks an evidence bundle offline: the manifest's signature, every file's
size and SHA-256, that no file was added, and the archive signature over
every other byte. --public-key is the installation's published key
(/.well-known/portico-evidence-key.pem); without it the bundle's own key is
used, which proves the bundle intact but not who made it: compare the
fingerprint printed with the published one.

--chain also opens the installation's database and checks that the
bundle's audit chain head is part of today's chain: nothing recorded
before it was rewritten, deleted or cut off since (only for a bundle that
is valid offline: an invalid bundle's head proves nothing). The check is
audited.

Exit status 0 when valid, 1 when not (each problem on its own line).`, config.Storage|config.Policy, e.stdout)
	pubFile := l.FlagSet().String("public-key", "", "the installation's evidence public key (PEM `file`)")
	chain := l.FlagSet().Bool("chain", false, "also check the bundle's audit chain head against the installation's database")
	file, flags, err := positional(l, args, "bundle")
	if err != nil {
		return err
	}
	cfg, err := load(e, l, flags)
	if err != nil {
		return err
	}
	var pub []byte
	if *pubFile != "" {
		b, err := os.ReadFile(*pubFile)
		if err != nil {
			return usageErr("--public-key: %v", err)
		}
		k, err := compliance.ParsePublicKey(b)
		if err != nil {
			return usageErr("--public-key %s: %v", *pubFile, err)
		}
		pub = k
	}
	data, err := readBundle(file)
	if err != nil {
		return err
	}
	v, verr := compliance.VerifyBundle(data, pub)
	problems := v.Problems
	if *chain && verr == nil {
		if err := verifyChain(ctx, e, cfg, v, &problems); err != nil {
			return err
		}
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintf(e.stderr, "  %s\n", p)
		}
		n := fmt.Sprintf("%d problems", len(problems))
		if len(problems) == 1 {
			n = "1 problem"
		}
		return &exitError{code: 1, msg: fmt.Sprintf("bundle INVALID (%s): %s", n, problems[0])}
	}
	m := v.Manifest
	fmt.Fprintf(e.stdout, "bundle OK: %d files verified, made %s by Portico %s\n", len(m.Files)+2, m.CreatedAt.Format("2006-01-02 15:04:05Z07:00"), m.Version)
	fmt.Fprintf(e.stdout, "signed by evidence key %s\n", v.Fingerprint)
	fmt.Fprintf(e.stdout, "audit chain head %d:%s, profile %s digest %s\n", m.ChainHead.Seq, m.ChainHead.Hash, m.Profile, m.ProfileDigest)
	if v.KeyFromBundle {
		fmt.Fprintln(e.stdout, "NOTE: checked with the key inside the bundle: this proves the bundle is intact, not who made it.")
		fmt.Fprintln(e.stdout, "Compare the fingerprint above with the installation's /.well-known/portico-evidence-keys.json, or pass --public-key.")
	}
	if *chain {
		fmt.Fprintln(e.stdout, "audit chain OK: the bundle's head is part of today's chain")
	}
	return nil
}

// readBundle reads a bundle file, refusing one too large to be a bundle.
func readBundle(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxBundleSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxBundleSize {
		return nil, &exitError{code: 1, msg: fmt.Sprintf("%s: larger than %d bytes: not an evidence bundle", path, maxBundleSize)}
	}
	return data, nil
}

// verifyChain checks the bundle's chain head against the installation's
// audit chain, adding a problem when it is not part of it, and records
// the check in the trail.
func verifyChain(ctx context.Context, e env, cfg config.Config, v compliance.BundleVerification, problems *[]string) error {
	st, err := app.OpenStorage(ctx, cfg, app.Existing, app.NewLogger(e.stderr, cfg.LogFormat, cfg.LogLevel))
	if err != nil {
		return err
	}
	defer st.Close()
	res, err := compliance.VerifyChain(ctx, st.Audit, v.Manifest)
	if err != nil {
		return err
	}
	outcome := audit.Success
	if res.Problem != "" {
		outcome = audit.Failure
		*problems = append(*problems, res.Problem)
	}
	_, err = st.Audit.Record(ctx, audit.Event{
		Actor: audit.ActorCLI, Action: "compliance.verify", Target: "signing-key:" + v.Fingerprint, Outcome: outcome,
		Details: map[string]any{"chain_seq": v.Manifest.ChainHead.Seq, "head_seq": res.Head.Seq, "broken_at": res.BrokenAt},
	})
	return err
}
