package web

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/db"
)

// unreachableRetryAfter is the Retry-After of a request refused because the
// database could not be reached: a restart takes seconds.
const unreachableRetryAfter = 5 * time.Second

var (
	errNotFound         = apperr.New(apperr.NotFound, "Page not found.")
	errMethodNotAllowed = apperr.New(apperr.MethodNotAllowed, "This page does not accept that kind of request.")
	errSignInFirst      = apperr.New(apperr.Unauthorized, "Your session has ended. Sign in again, then repeat what you were doing.")
)

// statusOf maps an error code to its HTTP status.
func statusOf(code apperr.Code) int {
	switch code {
	case apperr.Invalid:
		return http.StatusUnprocessableEntity
	case apperr.BadRequest:
		return http.StatusBadRequest
	case apperr.NotFound:
		return http.StatusNotFound
	case apperr.Conflict:
		return http.StatusConflict
	case apperr.Unauthorized:
		return http.StatusUnauthorized
	case apperr.Forbidden:
		return http.StatusForbidden
	case apperr.TooLarge:
		return http.StatusRequestEntityTooLarge
	case apperr.RateLimited:
		return http.StatusTooManyRequests
	case apperr.Unavailable:
		return http.StatusServiceUnavailable
	case apperr.MethodNotAllowed:
		return http.StatusMethodNotAllowed
	case apperr.UnsupportedMedia:
		return http.StatusUnsupportedMediaType
	}
	return http.StatusInternalServerError
}

// fixedText is what the user reads for errors with no safe message of their
// own: internal faults never show their cause.
var fixedText = map[int]string{
	http.StatusInternalServerError: "Something went wrong on our side. Nothing was changed; please try again. If it keeps happening, contact support and quote the request ID below.",
	http.StatusServiceUnavailable:  "Portico is temporarily unavailable. Please try again in a moment.",
}

// errorPage is the data of the error template.
type errorPage struct {
	Page
	Status    int
	Heading   string
	Message   string
	RequestID string
}

// renderError is the one place where errors become responses. It shows a
// message that is safe to show (an *apperr.Error's own message, or a fixed
// text) and the request ID, and logs internal errors with that ID. It
// never shows err.Error(), stack traces or internals.
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil && errors.Is(err, context.Canceled) {
		// The client went away (closed the connection, or its load
		// generator stopped): nobody reads the answer, and it is no
		// fault of Portico's to page anyone about.
		s.logger.Info("request canceled by the client", "request_id", RequestID(r.Context()))
		return
	}
	unreachable := false
	if apperr.CodeOf(err) == apperr.Internal && db.Unreachable(err) {
		// Enforces MTL-1.1 (availability): while the database is down or
		// restarting, requests fail at once with 503 and a Retry-After,
		// not an internal error, and nothing waits for it to come back.
		err = &apperr.Error{Code: apperr.Unavailable, RetryAfter: unreachableRetryAfter, Err: err}
		unreachable = true
	}
	code := apperr.CodeOf(err)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		code = apperr.TooLarge
	}
	status := statusOf(code)
	msg := apperr.MessageOf(err)
	if code == apperr.TooLarge && msg == "" {
		msg = "The request is too large."
	}
	if msg == "" {
		msg = fixedText[status]
	}
	if msg == "" {
		msg = http.StatusText(status) + "."
	}
	id := RequestID(r.Context())
	if f := db.FaultOf(err); f != "" {
		// Enforces MTL-1.1: the operator reads why changes are refused
		// (disk full, read-only, I/O error) in one line, with the
		// driver's own text only: nothing the request carried.
		cause := "unknown"
		if de := db.DriverError(err); de != nil {
			cause = de.Error()
		}
		s.logger.Error("database cannot save changes", "request_id", id, "fault", string(f), "error", cause)
		s.metrics.storageFault(f)
	} else if unreachable {
		s.logger.Error("database unreachable", "request_id", id, "error", err.Error())
	} else if status >= 500 {
		s.logger.Error("request failed", "request_id", id, "error", err.Error())
	}

	if d := apperr.RetryAfterOf(err); d > 0 {
		// Enforces MTL-1.1: a client turned away for load is told when
		// to come back, on pages and in the API alike.
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(d.Seconds()))))
	}
	if wantsJSON(r) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{
			"error": map[string]string{"code": string(code), "message": msg, "request_id": id},
		})
		return
	}
	p := errorPage{
		Page:      s.page(w, r, http.StatusText(status)),
		Status:    status,
		Heading:   http.StatusText(status),
		Message:   msg,
		RequestID: id,
	}
	if status == http.StatusNotFound {
		p.Heading = "Page not found"
	}
	if err := s.renderStatus(w, status, "error", p); err != nil {
		// The error template itself failed: fall back to plain text.
		s.logger.Error("render error page", "request_id", id, "error", err.Error())
		http.Error(w, msg+" Request ID: "+id, status)
	}
}

// wantsJSON reports whether the client asked for JSON rather than a page.
func wantsJSON(r *http.Request) bool {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		return true
	}
	accept := r.Header.Get("Accept")
	return strings.Contains(accept, "application/json") && !strings.Contains(accept, "text/html")
}
