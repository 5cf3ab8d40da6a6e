package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portico/portico/internal/config"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/detect"
	"github.com/portico/portico/internal/livefeed"
)

// feed is the security dashboard's live feed: a hub of this process's
// viewers, and what publishes into every node's hub.
type feed struct {
	hub *livefeed.Hub
	pub livefeed.Publisher
	pg  *livefeed.Postgres
}

// newFeed builds the live feed. On PostgreSQL, events go through
// NOTIFY on a channel of the database and schema, so every node's viewers
// see every node's events (CP-8.1); on SQLite, one process, straight into
// the hub.
func newFeed(ctx context.Context, st *Storage, cfg config.Config, logger *slog.Logger) (*feed, error) {
	f := &feed{hub: livefeed.NewHub(livefeed.Options{})}
	if st.DB.Dialect() != db.Postgres {
		f.pub = livefeed.Local{Hub: f.hub}
		return f, nil
	}
	// Channels are per database, not per schema: name the schema in it,
	// so that installations sharing a database do not share a feed.
	var schema string
	if err := st.DB.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(schema))
	pg, err := livefeed.NewPostgres(ctx, cfg.DatabaseURL, "portico_feed_"+hex.EncodeToString(sum[:6]), f.hub, logger)
	if err != nil {
		return nil, err
	}
	f.pg, f.pub = pg, pg
	return f, nil
}

func (f *feed) close() {
	f.hub.Close()
	if f.pg != nil {
		f.pg.Close()
	}
}

// registerDetectMetrics exposes detection in Prometheus: risk levels and
// rule hits (counters), alerts by state and the age of the oldest new
// alert (read from the database at each scrape, so every node reports the
// same).
//
// Enforces CP-8.1: an operator's monitoring sees detection as it runs,
// and can alert on an alert nobody has looked at.
func registerDetectMetrics(reg *prometheus.Registry, d *detect.Service) {
	d.SetMetrics(detect.NewMetrics(reg))
	reg.MustRegister(&alertCollector{d: d,
		byState: prometheus.NewDesc("portico_alerts", "Detection alerts by triage state.", []string{"state"}, nil),
		oldest:  prometheus.NewDesc("portico_alert_oldest_new_age_seconds", "Age of the oldest alert still new (0 when none).", nil, nil),
	})
}

type alertCollector struct {
	d               *detect.Service
	byState, oldest *prometheus.Desc
}

func (c *alertCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.byState; ch <- c.oldest }

func (c *alertCollector) Collect(ch chan<- prometheus.Metric) {
	ctx := context.Background()
	counts, err := c.d.Counts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.byState, err)
		return
	}
	for _, st := range []string{detect.StateNew, detect.StateAcknowledged, detect.StateDismissed, detect.StateEscalated} {
		ch <- prometheus.MustNewConstMetric(c.byState, prometheus.GaugeValue, float64(counts[st]), st)
	}
	age, err := c.d.OldestNew(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.oldest, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age.Seconds())
}
