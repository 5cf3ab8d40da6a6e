// Package apperr is the error type that crosses from domain packages to the
// web layer. An *Error carries a code, which decides the HTTP status, and a
// message written for the person using Portico: safe to show, never the text
// of an internal error. Any other error is internal: it is logged with the
// request ID and the user sees a fixed text.
package apperr

import (
	"errors"
	"fmt"
	"time"
)

// Code classifies an error for the user and the HTTP layer.
type Code string

// The codes. Their HTTP statuses are chosen in internal/web.
const (
	Internal         Code = "internal"     // a fault on our side; never shown in detail
	Invalid          Code = "invalid"      // bad input: the message says what to fix
	NotFound         Code = "not_found"    // also used for objects the actor may not see
	Conflict         Code = "conflict"     // the request clashes with current state
	Unauthorized     Code = "unauthorized" // not signed in, or the sign-in failed
	Forbidden        Code = "forbidden"    // signed in but not allowed
	TooLarge         Code = "too_large"    // the request body is over the limit
	RateLimited      Code = "rate_limited" // slow down
	Unavailable      Code = "unavailable"  // a dependency (database) is down
	BadRequest       Code = "bad_request"  // malformed request (not a validation failure)
	MethodNotAllowed Code = "method_not_allowed"
	UnsupportedMedia Code = "unsupported_media_type" // the body is not in a format the endpoint takes
)

// Error is an error whose Message is safe to show to the user.
type Error struct {
	Code    Code
	Message string
	// Err is the underlying cause, for logs and errors.Is; never shown.
	Err error
	// RetryAfter, when set, tells the client when to try again (the
	// Retry-After header of a 503 or 429).
	RetryAfter time.Duration
	// Fields, when set, says what is wrong with each input of a form,
	// keyed by what the input holds ("email", "password"): a form shows
	// each message next to its input. Message then sums them up.
	Fields map[string]string
}

func (e *Error) Error() string {
	if inner, ok := e.Err.(*Error); ok && inner.Message == e.Message {
		return inner.Error() // InField's wrapper says nothing more
	}
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an *Error with a user-facing message.
func New(code Code, message string) *Error { return &Error{Code: code, Message: message} }

// Errorf returns an *Error whose message is formatted. Only put values in it
// that are safe to show back to the user who sent them.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error with a user-facing message and a hidden cause.
func Wrap(code Code, message string, err error) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// CodeOf returns the code of the first *Error in err's chain, or Internal.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// RetryAfterOf returns how long the client should wait before trying
// again, from the first *Error in err's chain (0: not said).
func RetryAfterOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// MessageOf returns the user-facing message of err, or "" for internal errors.
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != Internal {
		return e.Message
	}
	return ""
}

// FieldsOf returns what is wrong with each input, from the first *Error in
// err's chain (nil: the error is about the form as a whole).
func FieldsOf(err error) map[string]string {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}

// InField says that err, when it is an Invalid *Error about no input in
// particular, is about the input field: its message becomes that input's.
// Any other error, and nil, is returned as it is.
func InField(field string, err error) error {
	var e *Error
	if !errors.As(err, &e) || e.Code != Invalid || e.Fields != nil {
		return err
	}
	// Wrapped, not copied: errors.Is still finds a sentinel.
	return &Error{Code: Invalid, Message: e.Message, Err: err, Fields: map[string]string{field: e.Message}}
}

// FieldErrors returns an Invalid *Error about several inputs at once,
// with message as its summary, or nil when fields is empty.
func FieldErrors(message string, fields map[string]string) error {
	if len(fields) == 0 {
		return nil
	}
	return &Error{Code: Invalid, Message: message, Fields: fields}
}
