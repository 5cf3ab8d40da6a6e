package web

import (
	"context"
	"net/http"
	"time"

	"github.com/portico/portico/internal/apperr"
)

// healthz answers while the process runs (liveness).
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, err := w.Write([]byte("ok\n"))
	return err
}

// readyz answers when the database does (readiness). Enforces MTL-1.1
// (availability): load balancers route only to nodes that can serve.
//
// A database that answers but cannot save (a full disk, a read-only file
// system) leaves the node ready: reads go on, and there is no other node
// to send anyone to (SQLite has one; PostgreSQL's nodes share the fault).
// Taking it out would turn a write outage into a full one. The fault shows
// in the log ("database cannot save changes") and in
// portico_storage_faults_total instead.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.db.Ping(ctx); err != nil {
		return apperr.Wrap(apperr.Unavailable, "The database is not reachable.", err)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, err := w.Write([]byte("ready\n"))
	return err
}
