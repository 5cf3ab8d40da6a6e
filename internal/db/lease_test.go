package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
)

// TestRunLeasedReleasesOnStop (MTL-1.1): a background pass whose server
// stops gives its lease back, so that the pass goes on at once on another
// node, or on this one when it restarts (a new process is a new holder),
// instead of pausing until the lease expires: three intervals, which is
// three hours for the hourly compliance evidence and three days for the
// daily vendor monitoring.
func TestRunLeasedReleasesOnStop(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx, stop := context.WithCancel(context.Background())
		passes := make(chan struct{}, 1)
		done := make(chan struct{})
		go func() {
			defer close(done)
			d.RunLeased(ctx, "test.pass", time.Hour, nil, "test pass", func(context.Context) error {
				select {
				case passes <- struct{}{}:
				default:
				}
				return nil
			})
		}()
		select {
		case <-passes:
		case <-time.After(10 * time.Second):
			t.Fatal("the pass did not run")
		}
		// Held: another holder is refused.
		if ok, _, err := d.TakeLease(context.Background(), "test.pass", "other-node", time.Hour); err != nil || ok {
			t.Fatalf("another holder took a held lease: %v %v", ok, err)
		}
		stop()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("RunLeased did not return")
		}
		if ok, _, err := d.TakeLease(context.Background(), "test.pass", "other-node", time.Hour); err != nil || !ok {
			t.Fatalf("the stopped pass kept its lease (taken by another holder: %v, %v)", ok, err)
		}
	})
}
