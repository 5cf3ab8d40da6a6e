package livefeed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Postgres is the Publisher of a deployment on PostgreSQL, where several
// nodes may serve the dashboard. It LISTENs on a channel on a connection
// of its own and publishes every notification into the node's hub.
//
// A node's own events come back the same way: Publish only sends the
// NOTIFY and never touches the local hub. So no node sees an event twice
// and every node sees the events in the same order (the order in which
// their transactions committed), with no node ID to compare. The price is
// a round trip to the database before a node's own viewers see its event,
// and, while the listener is down, its own events are missed like
// everyone else's (viewers get a gap marker when it is back).
type Postgres struct {
	hub     *Hub
	channel string
	cfg     *pgx.ConnConfig
	log     *slog.Logger

	minBackoff, maxBackoff time.Duration

	stop context.CancelFunc
	done chan struct{}

	health time.Duration // healthEvery when made

	mu   sync.Mutex
	conn *pgx.Conn // the current listening connection, for tests
}

// NewPostgres connects to url, LISTENs on channel and starts publishing
// notifications into hub. The first connection is made before it returns
// (so a wrong URL or channel stops start-up); after that a lost
// connection is made again with exponential back-off (100 ms to 30 s,
// with jitter) until Close. ctx bounds only the first connection.
//
// The channel is per database, not per schema: deployments sharing a
// database need different channels.
func NewPostgres(ctx context.Context, url, channel string, hub *Hub, logger *slog.Logger) (*Postgres, error) {
	if err := checkChannel(channel); err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		// pgx's parse errors may quote the URL; say only what failed.
		return nil, errors.New("live feed: cannot parse the PostgreSQL URL")
	}
	if logger == nil {
		logger = slog.Default()
	}
	p := &Postgres{
		hub:        hub,
		channel:    channel,
		cfg:        cfg,
		log:        logger,
		minBackoff: 100 * time.Millisecond,
		maxBackoff: 30 * time.Second,
		health:     healthEvery,
		done:       make(chan struct{}),
	}
	conn, err := p.connect(ctx)
	if err != nil {
		return nil, err
	}
	runCtx, stop := context.WithCancel(context.Background())
	p.stop = stop
	go p.run(runCtx, conn)
	return p, nil
}

// Publish sends e to every node's hub, this one's included, through
// NOTIFY on ex (see Notify).
func (p *Postgres) Publish(ctx context.Context, ex Execer, e Event) error {
	return Notify(ctx, ex, p.channel, e)
}

// Close stops listening and waits for the listener to end. It does not
// close the hub.
func (p *Postgres) Close() error {
	p.stop()
	<-p.done
	return nil
}

// connect opens a connection and LISTENs on the channel.
func (p *Postgres) connect(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, p.cfg.Copy())
	if err != nil {
		return nil, fmt.Errorf("live feed listener: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{p.channel}.Sanitize()); err != nil {
		conn.Close(context.Background())
		return nil, fmt.Errorf("live feed listener: LISTEN: %w", err)
	}
	p.mu.Lock()
	p.conn = conn
	p.mu.Unlock()
	return conn, nil
}

// healthEvery is how long the listener waits in silence before it checks
// that its connection still answers: a dead peer without a reset (a
// network partition) would otherwise leave it waiting for good. Tests
// shorten it.
var healthEvery = time.Minute

func (p *Postgres) run(ctx context.Context, conn *pgx.Conn) {
	defer close(p.done)
	backoff := p.minBackoff
	for {
		since := time.Now()
		err := p.listen(ctx, conn)
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn.Close(closeCtx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		// A connection that held for a while starts the back-off over;
		// one that is dropped at once keeps it growing.
		if time.Since(since) > time.Minute {
			backoff = p.minBackoff
		}
		p.log.Warn("live feed listener lost its connection; reconnecting", "err", err)
		for {
			// Full jitter in [backoff/2, backoff), so nodes that lost
			// the database together do not all come back together.
			wait := backoff/2 + rand.N(backoff/2+1)
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			backoff = min(backoff*2, p.maxBackoff)
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			conn, err = p.connect(cctx)
			cancel()
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return
			}
			p.log.Warn("live feed listener cannot reconnect", "err", err, "retry_in", backoff)
		}
		p.log.Info("live feed listener reconnected")
		// Notifications sent while no connection listened are lost.
		p.hub.MarkGap()
	}
}

// listen publishes notifications until the connection fails or ctx ends.
func (p *Postgres) listen(ctx context.Context, conn *pgx.Conn) error {
	for {
		wctx, cancel := context.WithTimeout(ctx, p.health)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				return err
			}
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err = conn.Ping(pctx)
			cancel()
			if err != nil {
				return err
			}
			continue
		}
		if n.Channel != p.channel {
			continue
		}
		var e Event
		if err := json.Unmarshal([]byte(n.Payload), &e); err != nil {
			p.log.Warn("live feed listener: notification is not an event", "err", err)
			continue
		}
		p.hub.Publish(e)
	}
}

// backendPID is the process ID of the listening connection's server
// backend, for tests that kill it.
func (p *Postgres) backendPID() uint32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conn.PgConn().PID()
}
