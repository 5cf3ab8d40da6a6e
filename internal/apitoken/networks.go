package apitoken

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/detect"
)

// maxNetworks is how many networks a token remembers: the most recently
// used ones. A token used from more places than that sees its oldest
// network reported again when it comes back.
const maxNetworks = 16

// networkSecret names the server secret that keys the networks' hashes.
const networkSecret = "token-networks"

// networkMAC is the stored form of the client network of ip (its /24 or
// /56, as detection groups addresses): a keyed hash, so the column names no
// address, and one without the key cannot test guesses against it. 128
// bits of HMAC-SHA256 are plenty for telling 16 networks apart. "" when
// there is no address.
func (s *Store) networkMAC(ip string) string {
	if ip == "" {
		return ""
	}
	m := hmac.New(sha256.New, s.netKey)
	m.Write([]byte(detect.Network(ip)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// parseNetworks reads the networks column. A value that does not parse
// counts as empty: the next use teaches the token afresh instead of
// failing the request.
func parseNetworks(s string) []string {
	var out []string
	if json.Unmarshal([]byte(s), &out) != nil {
		return nil
	}
	return out
}

// knownNetwork reports whether the networks column raw lists net, without
// decoding it: the hashes are base64url, which JSON writes as they are,
// between quotes, so a quoted hash matches one whole entry. It runs on every request.
func knownNetwork(raw, net string) bool {
	return strings.Contains(raw, `"`+net+`"`)
}

// recordUse writes a use of token t from ip, whose network hashes to net:
// the time and the encrypted address, at most once per touchInterval, and
// the network when it is new to the token. The row is read again under
// lock, so concurrent requests from one new network report it once.
//
// Enforces CP-8.2, CP-6.3: a token used from a network it has not been used
// from is audited (token.new_network, the holder's account in the details)
// in the same transaction that records the network, for the rule
// token_new_network; the first use teaches the first network and reports
// nothing.
func (s *Store) recordUse(ctx context.Context, t Token, ip, net string) error {
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		q := `SELECT networks, last_used_at FROM api_tokens WHERE id = $1`
		if tx.Dialect() == db.Postgres {
			q += ` FOR UPDATE`
		}
		var (
			raw  string
			last sql.NullTime
		)
		if err := tx.QueryRowContext(ctx, q, t.ID).Scan(&raw, &last); err != nil {
			return err
		}
		nets := parseNetworks(raw)
		i := slices.Index(nets, net)
		isNew := net != "" && i < 0
		touch := !last.Valid || tx.Now().Sub(last.Time) >= touchInterval
		if !isNew && !touch {
			return nil // another request wrote it first
		}
		switch {
		case isNew:
			if len(nets) > 0 {
				if _, err := s.audit.Append(ctx, tx, audit.Event{Actor: "account:" + t.AccountID, Action: "token.new_network",
					Target: "token:" + t.ID, Outcome: audit.Success, IP: ip,
					Details: map[string]any{"account": t.AccountID}}); err != nil {
					return err
				}
			}
			nets = append(nets, net)
		case i >= 0:
			// Most recently used last, so that the cap drops the network
			// least recently seen.
			nets = append(slices.Delete(nets, i, i+1), net)
		}
		if len(nets) > maxNetworks {
			nets = nets[len(nets)-maxNetworks:]
		}
		b, err := json.Marshal(nets)
		if err != nil {
			return err
		}
		enc, err := s.keys.Encrypt(ctx, tx, t.AccountID, ipField(t.ID), []byte(ip))
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE api_tokens SET last_used_at = $1, last_used_ip_enc = $2, networks = $3 WHERE id = $4`,
			tx.Now(), enc, string(b), t.ID)
		if err != nil {
			return fmt.Errorf("apitoken: record use: %w", err)
		}
		return nil
	})
}
