package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"time"
)

// hashSize is the size of a SHA-256 hash, and of the genesis prev_hash.
const hashSize = sha256.Size

// hashDomain starts every encoding, so that an event hash cannot be
// mistaken for the hash of anything else, and a future encoding can be told
// apart from this one.
const hashDomain = "portico-audit-v1"

// timeLayout is how the time enters the hash: RFC 3339 in UTC with exactly
// six fractional digits (the stored precision).
const timeLayout = "2006-01-02T15:04:05.000000Z"

// The canonical encoding of an event, version 1. Hash = SHA-256 of:
//
//	str(hashDomain)            "portico-audit-v1"
//	u64(seq)                   8 bytes, big-endian
//	str(prev_hash)             the 32 raw bytes
//	str(at)                    timeLayout, UTC: "2026-03-01T12:30:00.123456Z"
//	str(actor) str(action) str(target) str(outcome)
//	str(ip) str(user_agent) str(request_id)
//	str(details)               the stored canonical JSON text, byte for byte
//
// where str(b) is len(b) as 4 bytes big-endian followed by b. Every field
// is length-prefixed, so the encoding is unambiguous (no two different
// events encode alike) without any escaping, and anyone can recompute it
// from the columns, or from the lines of Export, in a few lines of code.
// It covers exactly what is stored: verify recomputes it from the row.
//
// Changing it breaks every existing chain: TestCanonicalHashIsStable pins it.

// field is what the encoding can hold: stored values arrive as strings
// (Append) or as raw bytes borrowed from the driver (Verify).
type field interface{ ~string | ~[]byte }

// appendCanonical appends the canonical encoding of one event to buf.
func appendCanonical[S field](buf []byte, seq int64, prev []byte, at time.Time, fields *[8]S) []byte {
	buf = appendStr(buf, hashDomain)
	buf = binary.BigEndian.AppendUint64(buf, uint64(seq))
	buf = appendStr(buf, prev)
	// The time's length is written after formatting it: it is always 27
	// bytes for years 0 to 9999, but the encoding must not depend on that.
	n := len(buf)
	buf = append(buf, 0, 0, 0, 0)
	buf = at.UTC().AppendFormat(buf, timeLayout)
	binary.BigEndian.PutUint32(buf[n:], uint32(len(buf)-n-4))
	for _, f := range fields {
		buf = appendStr(buf, f)
	}
	return buf
}

func appendStr[S field](buf []byte, s S) []byte {
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(s)))
	return append(buf, s...)
}

// computeHash returns the hash of r from its stored fields.
func (r *Record) computeHash() []byte {
	fields := [8]string{r.Actor, r.Action, r.Target, r.Outcome, r.IP, r.UserAgent, r.RequestID, string(r.Details)}
	buf := appendCanonical(make([]byte, 0, 256), r.Seq, r.PrevHash, r.At, &fields)
	sum := sha256.Sum256(buf)
	return sum[:]
}
