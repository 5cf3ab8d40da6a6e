package audit_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
)

// syncBuffer is a log destination that the anchoring goroutine and the
// test can share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// TestRunAnchoring: the head leaves the database, in the log and through
// onAnchor (metrics), at start, every interval, and at stop (CP-5.3,
// CP-8.1, MTL-1.1).
func TestRunAnchoring(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		l := audit.New(d)
		seed(t, l, 5)
		var logs syncBuffer
		logger := slog.New(slog.NewJSONHandler(&logs, nil))
		anchors := make(chan audit.Anchor, 100)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			l.RunAnchoring(ctx, 20*time.Millisecond, logger, func(a audit.Anchor) {
				select {
				case anchors <- a:
				default: // the test has stopped listening
				}
			})
		}()

		first := <-anchors
		if first.Seq != 5 || first.At.IsZero() {
			t.Fatalf("first anchor = %+v, want seq 5", first)
		}
		r, err := l.Record(context.Background(), event(6))
		if err != nil {
			t.Fatal(err)
		}
		for a := range anchors {
			if a.Seq == 6 {
				if !bytes.Equal(a.Hash, r.Hash) {
					t.Fatalf("anchor %v, want hash %x", a, r.Hash)
				}
				break
			}
		}
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("RunAnchoring did not return after ctx ended")
		}

		// An anchor from the log verifies against the chain.
		var last struct {
			Msg  string `json:"msg"`
			Seq  int64  `json:"seq"`
			Hash string `json:"hash"`
		}
		lines := bytes.Split(bytes.TrimSpace(logs.Bytes()), []byte("\n"))
		if err := json.Unmarshal(lines[len(lines)-1], &last); err != nil {
			t.Fatal(err)
		}
		if last.Msg != "audit anchor" || last.Seq != 6 || last.Hash != hex.EncodeToString(r.Hash) {
			t.Fatalf("last log line = %s", lines[len(lines)-1])
		}
		h, _ := hex.DecodeString(last.Hash)
		res, err := l.Verify(context.Background(), audit.VerifyOptions{Anchor: &audit.Anchor{Seq: last.Seq, Hash: h}})
		if err != nil || !res.OK {
			t.Fatalf("verify with the logged anchor = %+v, %v", res, err)
		}
		if s := (audit.Anchor{Seq: 6, Hash: r.Hash}).String(); s != "6:"+last.Hash {
			t.Fatalf("String() = %s", s)
		}
	})
}
