// Package app wires Portico together: configuration -> storage (database,
// keyring, audit log) -> web server -> listeners. New and Run are what
// `portico serve` calls, and what the end-to-end tests call to start the
// whole program on a random port.
package app

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/buildinfo"
	"github.com/portico/portico/internal/compliance"
	"github.com/portico/portico/internal/config"
	"github.com/portico/portico/internal/web"
)

// App is a running Portico server.
type App struct {
	cfg      config.Config
	logger   *slog.Logger
	storage  *Storage
	services *Services
	reg      *prometheus.Registry
	anchor   *anchorMetrics
	feed     *feed

	// compliance takes the evidence of every clause (MTL-7.2).
	compliance *compliance.Service

	https      *http.Server
	httpsLn    net.Listener
	redirect   *http.Server
	redirectLn net.Listener
	metrics    *http.Server
	metricsLn  net.Listener

	url       string
	closeOnce sync.Once
}

// New prepares everything and binds the listeners, so that URL is known
// when it returns; Run then serves. On error nothing is left open.
func New(ctx context.Context, cfg config.Config, logger *slog.Logger) (_ *App, err error) {
	a := &App{cfg: cfg, logger: logger}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if a.storage, err = OpenStorage(ctx, cfg, Initialise, logger); err != nil {
		return nil, err
	}

	var cert tls.Certificate
	if cfg.TLSCert != "" {
		cert, err = loadCertificate(cfg.TLSCert, cfg.TLSKey)
	} else {
		cert, err = selfSignedCertificate(cfg.DataDir, logger)
	}
	if err != nil {
		return nil, err
	}

	a.reg = prometheus.NewRegistry()
	a.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	bi := buildinfo.Read()
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "portico_build_info", Help: "Build of the running binary (value 1).",
	}, []string{"version", "revision", "goversion"})
	buildInfo.WithLabelValues(bi.Version, bi.Revision, bi.GoVersion).Set(1)
	a.reg.MustRegister(buildInfo)
	a.anchor = newAnchorMetrics(a.reg)

	// The listener comes first: the public URL (links in mail, the
	// passkey relying party) defaults to the address actually bound.
	if a.httpsLn, err = net.Listen("tcp", cfg.Addr); err != nil {
		return nil, fmt.Errorf("--addr %s: %w", cfg.Addr, err)
	}
	a.url = publicURL(cfg.Addr, a.httpsLn.Addr())
	public := cfg.PublicURL
	if public == "" {
		public = a.url
	}
	if a.services, err = NewServices(a.storage, cfg, public, logger); err != nil {
		return nil, err
	}
	// CP-5.2, CP-8.1: the retention purge's last run, for alerting on a
	// purge that stopped running.
	a.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "portico_retention_last_run_timestamp_seconds",
		Help: "When the retention purge last ran (Unix time; 0 if never).",
	}, func() float64 {
		last, ok, err := a.services.Retention.LastRun(context.Background())
		if err != nil || !ok {
			return 0
		}
		return float64(last.StartedAt.Unix())
	}))
	if a.feed, err = newFeed(ctx, a.storage, cfg, logger); err != nil {
		return nil, err
	}
	a.services.Detect.SetFeed(a.feed.pub)
	connectIncidentWarnings(a.services, a.feed.pub, public)
	connectVendorWarnings(a.services, public)
	registerDetectMetrics(a.reg, a.services.Detect)
	tlsCfg := tlsConfig(cert)
	if a.compliance, err = NewCompliance(a.storage, a.services, public, a.httpsLn.Addr().String(), tlsCfg); err != nil {
		return nil, err
	}
	for _, adv := range a.storage.Profile.Advisories() {
		logger.Warn("policy profile setting is too weak for production", "advice", adv)
	}

	srv, err := web.New(ctx, web.Deps{
		DB:             a.storage.DB,
		Secrets:        a.storage.Keyring,
		Profile:        a.storage.Profile,
		Logger:         logger,
		Metrics:        web.NewMetrics(a.reg),
		MaxBodyBytes:   cfg.MaxBodyBytes,
		Version:        bi.Version,
		Identity:       a.services.Identity,
		Sessions:       a.services.Sessions,
		Passkeys:       a.services.Passkeys, // nil when served on an IP address
		Notices:        a.services.Notices,
		Support:        a.services.Support,
		Tokens:         a.services.Tokens,
		Keys:           a.storage.Keyring,
		Audit:          a.storage.Audit,
		Privacy:        a.services.Privacy,
		Retention:      a.services.Retention,
		Detect:         a.services.Detect,
		Incidents:      a.services.Incidents,
		Findings:       a.services.Findings,
		PublicURL:      public,
		Vendors:        a.services.Vendors,
		Training:       a.services.Training,
		PolicyDocs:     a.services.PolicyDocs,
		Feed:           a.feed.hub,
		PolicyFile:     cfg.PolicyFile,
		TrustedProxies: cfg.TrustedProxies,
		Compliance:     a.compliance,
	})
	if err != nil {
		return nil, err
	}

	errorLog := slog.NewLogLogger(logger.Handler(), slog.LevelDebug)
	a.https = &http.Server{
		Handler:           srv,
		TLSConfig:         tlsCfg,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          errorLog,
	}
	if cfg.HTTPAddr != "" {
		if a.redirectLn, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
			return nil, fmt.Errorf("--http-addr %s: %w", cfg.HTTPAddr, err)
		}
		a.redirect = &http.Server{
			Handler:           redirectToHTTPS(a.httpsLn.Addr()),
			ReadHeaderTimeout: cfg.ReadHeaderTimeout,
			ReadTimeout:       cfg.ReadTimeout,
			WriteTimeout:      cfg.WriteTimeout,
			IdleTimeout:       cfg.IdleTimeout,
			MaxHeaderBytes:    16 << 10,
			ErrorLog:          errorLog,
		}
	}
	if cfg.MetricsAddr != "" {
		if a.metricsLn, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			return nil, fmt.Errorf("--metrics-addr %s: %w", cfg.MetricsAddr, err)
		}
		if ip := net.ParseIP(hostOf(a.metricsLn.Addr().String())); ip != nil && !ip.IsLoopback() {
			logger.Warn("metrics are served on a non-loopback address; restrict access to it", "addr", cfg.MetricsAddr)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{ErrorLog: errorLog}))
		a.metrics = &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: cfg.ReadHeaderTimeout,
			ReadTimeout:       cfg.ReadTimeout,
			WriteTimeout:      cfg.WriteTimeout,
			IdleTimeout:       cfg.IdleTimeout,
			ErrorLog:          errorLog,
		}
	}
	return a, nil
}

// URL is the HTTPS address the server answers on.
func (a *App) URL() string { return a.url }

// RedirectAddr is the plain-HTTP redirect listener's address, or "".
func (a *App) RedirectAddr() string {
	if a.redirectLn == nil {
		return ""
	}
	return a.redirectLn.Addr().String()
}

// MetricsURL is the metrics endpoint, or "" when metrics are off.
func (a *App) MetricsURL() string {
	if a.metricsLn == nil {
		return ""
	}
	return "http://" + a.metricsLn.Addr().String() + "/metrics"
}

// Storage gives tests and commands access to the database, keyring and log.
func (a *App) Storage() *Storage { return a.storage }

// Compliance is the running server's compliance service, whose checks
// probe this very server.
func (a *App) Compliance() *compliance.Service { return a.compliance }

// Run serves until ctx is cancelled or a listener fails, then shuts down
// gracefully: listeners close, in-flight requests get up to the shutdown
// timeout to finish, and the database is closed cleanly.
func (a *App) Run(ctx context.Context, out io.Writer) error {
	defer a.Close()
	bi := buildinfo.Read()
	// The start is recorded even if a stop was asked for at once.
	if _, err := a.storage.Audit.Record(context.WithoutCancel(ctx), audit.Event{
		Actor: audit.ActorSystem, Action: "system.start", Target: "portico", Outcome: audit.Success,
		Details: map[string]any{"version": bi.Version, "addr": a.httpsLn.Addr().String()},
	}); err != nil {
		return err
	}

	errc := make(chan error, 3)
	serve := func(name string, fn func() error) {
		go func() {
			if err := fn(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	serve("https", func() error { return a.https.ServeTLS(a.httpsLn, "", "") })
	if a.redirect != nil {
		serve("http redirect", func() error { return a.redirect.Serve(a.redirectLn) })
	}
	if a.metrics != nil {
		serve("metrics", func() error { return a.metrics.Serve(a.metricsLn) })
	}
	anchorCtx, stopAnchors := context.WithCancel(context.Background())
	anchorsDone := make(chan struct{})
	go func() {
		defer close(anchorsDone)
		a.storage.Audit.RunAnchoring(anchorCtx, a.cfg.AuditAnchorEvery, a.logger, a.anchor.set)
	}()
	// Background work: mail delivery and sign-in housekeeping. They stop
	// before the database closes.
	workCtx, stopWork := context.WithCancel(context.Background())
	var work sync.WaitGroup
	work.Go(func() { a.services.Notices.Run(workCtx) })
	work.Go(func() { runMaintenance(workCtx, a.services, time.Minute, a.logger) })
	// Behavioural analytics follows the audit trail (one node at a time)
	// and alerts go out to the SIEM (CP-8.2, CP-3.2).
	work.Go(func() { a.services.Detect.Run(workCtx, time.Second) })
	work.Go(func() { a.services.AlertOut.Run(workCtx, 5*time.Second) })
	work.Go(func() { a.services.Incidents.Run(workCtx, time.Minute, a.logger) }) // clock warnings (CP-7.1, MTL-5.1.1)
	work.Go(func() { a.services.Findings.Run(workCtx, time.Minute, a.logger) })  // overdue findings and assessments (MTL-4.3.2, CP-6.2)
	// Vendor endpoints, reassessments and agreements (CP-10.2, MTL-6.2).
	work.Go(func() {
		a.services.Vendors.Run(workCtx, a.storage.Profile.Governance.VendorCheckInterval.Duration, a.logger)
	})
	work.Go(func() { a.services.Training.Run(workCtx, time.Hour, a.logger) }) // built-in modules, reminders, overdue alerts (MTL-8.1, CP-12)
	// The policy documents: generated once, then significant changes and
	// overdue reviews (CP-11.2).
	work.Go(func() { a.services.PolicyDocs.Run(workCtx, time.Minute, a.logger) })
	// The compliance evidence of every clause, on a schedule (MTL-7.2).
	work.Go(func() {
		// The key that signs evidence bundles exists from the first start,
		// so that its public key is published before any bundle is made.
		if _, err := a.compliance.SigningKey(workCtx); err != nil && workCtx.Err() == nil {
			a.logger.Error("evidence signing key", "error", err.Error())
		}
		a.compliance.RunScheduled(workCtx, a.storage.Profile.Governance.EvidenceInterval.Duration, a.logger)
	})

	a.logger.Info("portico is running", "url", a.url, "version", bi.Version, "database", a.storage.DB.Dialect())
	fmt.Fprintf(out, "Portico is running at %s\n", a.url)

	var runErr error
	select {
	case <-ctx.Done():
		a.logger.Info("shutting down: finishing in-flight requests", "timeout", a.cfg.ShutdownTimeout.String())
	case runErr = <-errc:
		a.logger.Error("server failed; shutting down", "error", runErr.Error())
	}

	shutdownCtx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	// Live-feed streams never go idle: end them, or Shutdown waits.
	a.feed.hub.Close()
	var errs []error
	for _, s := range []*http.Server{a.https, a.redirect, a.metrics} {
		if s != nil {
			if err := s.Shutdown(shutdownCtx); err != nil {
				errs = append(errs, err)
			}
		}
	}
	stopWork()
	work.Wait()
	// The stop is recorded even when the shutdown timed out (its own short
	// deadline, not the expired one), and before the last anchor, so that
	// the final anchor covers it.
	stopCtx, cancelStop := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	if _, err := a.storage.Audit.Record(stopCtx, audit.Event{
		Actor: audit.ActorSystem, Action: "system.stop", Target: "portico", Outcome: audit.Success,
	}); err != nil {
		errs = append(errs, err)
	}
	cancelStop()
	stopAnchors()
	<-anchorsDone
	if err := a.Close(); err != nil {
		errs = append(errs, err)
	}
	a.logger.Info("portico stopped")
	return errors.Join(append([]error{runErr}, errs...)...)
}

// Close releases listeners and the database. It is safe to call twice.
func (a *App) Close() error {
	var err error
	a.closeOnce.Do(func() {
		for _, ln := range []net.Listener{a.httpsLn, a.redirectLn, a.metricsLn} {
			if ln != nil {
				ln.Close()
			}
		}
		if a.services != nil {
			a.services.Close()
		}
		if a.feed != nil {
			a.feed.close()
		}
		if a.storage != nil {
			err = a.storage.Close()
		}
	})
	return err
}

// publicURL is the URL to print: the configured host (localhost when the
// listener is on all interfaces) with the port actually bound.
func publicURL(configured string, bound net.Addr) string {
	host := hostOf(configured)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	_, port, _ := net.SplitHostPort(bound.String())
	if port == "443" {
		return "https://" + bracketIPv6(host)
	}
	return "https://" + net.JoinHostPort(host, port)
}

func hostOf(hostport string) string {
	h, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return hostport
	}
	return h
}

func bracketIPv6(h string) string {
	if ip := net.ParseIP(h); ip != nil && ip.To4() == nil {
		return "[" + h + "]"
	}
	return h
}

// redirectToHTTPS is the whole plain-HTTP listener: GET and HEAD are sent
// to the same path over HTTPS; anything else is refused, so that no form is
// ever submitted in clear text (CP-5.1, MTL-4.2.1).
func redirectToHTTPS(httpsAddr net.Addr) http.Handler {
	_, port, _ := net.SplitHostPort(httpsAddr.String())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "Use HTTPS.", http.StatusBadRequest)
			return
		}
		host := hostOf(r.Host)
		if host == "" {
			http.Error(w, "Use HTTPS.", http.StatusBadRequest)
			return
		}
		target := "https://" + bracketIPv6(host)
		if port != "443" {
			target = "https://" + net.JoinHostPort(host, port)
		}
		http.Redirect(w, r, target+r.URL.RequestURI(), http.StatusMovedPermanently)
	})
}

// anchorMetrics publish the audit chain head (CP-5.3): an external system
// that scrapes them keeps a copy that truncation of the table cannot touch.
type anchorMetrics struct {
	seq  prometheus.Gauge
	at   prometheus.Gauge
	info *prometheus.GaugeVec
	mu   sync.Mutex
	last []string // the info labels set last
}

func newAnchorMetrics(reg prometheus.Registerer) *anchorMetrics {
	m := &anchorMetrics{
		seq: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "portico_audit_head_sequence", Help: "Sequence number of the newest audit event at the last anchor.",
		}),
		at: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "portico_audit_anchor_timestamp_seconds", Help: "When the audit chain head was last anchored.",
		}),
		info: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "portico_audit_head_info", Help: "Audit chain head at the last anchor (value 1; the hash is a label).",
		}, []string{"sequence", "hash"}),
	}
	reg.MustRegister(m.seq, m.at, m.info)
	return m
}

func (m *anchorMetrics) set(a audit.Anchor) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seq.Set(float64(a.Seq))
	m.at.Set(float64(time.Now().Unix()))
	// The new head first, then the old one goes: a scrape never sees
	// none.
	labels := []string{strconv.FormatInt(a.Seq, 10), hex.EncodeToString(a.Hash)}
	m.info.WithLabelValues(labels...).Set(1)
	if m.last != nil && (m.last[0] != labels[0] || m.last[1] != labels[1]) {
		m.info.DeleteLabelValues(m.last...)
	}
	m.last = labels
}
