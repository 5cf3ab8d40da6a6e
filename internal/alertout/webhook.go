package alertout

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The webhook's headers.
const (
	HeaderEventID   = "X-Portico-Event-Id"
	HeaderTimestamp = "X-Portico-Timestamp"
	HeaderSignature = "X-Portico-Signature"
)

// newHTTPClient is the webhook's client: the whole exchange bounded by
// timeout, TLS 1.2 at least, and no redirects followed: a signed alert
// goes to the configured URL or nowhere (a 3xx answer is a failed attempt).
func newHTTPClient(timeout time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	tr.TLSHandshakeTimeout = timeout
	tr.ResponseHeaderTimeout = timeout
	tr.MaxIdleConnsPerHost = 2
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// sign returns the X-Portico-Signature value for body sent at timestamp.
func sign(secret []byte, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// sendWebhook POSTs one alert, signed. Only a 2xx answer delivers it.
func (s *Service) sendWebhook(ctx context.Context, a claimed) outcome {
	ts := strconv.FormatInt(s.db.Now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.webhookURL, bytes.NewReader(a.payload))
	if err != nil {
		return outcome{reason: "webhook: cannot build the request"}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Portico-Alerts")
	req.Header.Set(HeaderEventID, a.id)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, sign(s.webhookSecret, ts, a.payload))
	resp, err := s.http.Do(req)
	if err != nil {
		// Log the cause without the URL, whose query may hold a token.
		cause := err
		var ue *url.Error
		if errors.As(err, &ue) {
			cause = ue.Err
		}
		s.log.Warn("cannot reach the alert webhook", "alert_outbox_id", a.id, "error", cause)
		return outcome{reason: "webhook: " + transportReason(err)}
	}
	// Read a little of the answer so the connection can be reused; its
	// text is never kept.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return outcome{sent: true}
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return outcome{reason: fmt.Sprintf("webhook: redirect refused (HTTP %d)", resp.StatusCode)}
	}
	return outcome{reason: fmt.Sprintf("webhook: refused (HTTP %d)", resp.StatusCode)}
}

// transportReason describes a failed exchange in fixed words (the log
// line has the full error).
func transportReason(err error) string {
	var ne net.Error
	var cv *tls.CertificateVerificationError
	var oe *net.OpError
	switch {
	case errors.As(err, &cv):
		return "the receiver's TLS certificate is not trusted"
	case errors.As(err, &ne) && ne.Timeout():
		return "timed out"
	case strings.Contains(err.Error(), "tls:"):
		return "TLS handshake failed"
	case errors.As(err, &oe):
		return "cannot connect"
	}
	return "connection failed"
}

// Errors of Verify.
var (
	ErrBadSignature   = errors.New("alertout: the signature does not match")
	ErrStaleTimestamp = errors.New("alertout: the timestamp is outside the tolerance")
)

// Verify checks a webhook request, for receivers written in Go (the same
// steps port to any language):
//
//  1. Read the raw body, before any JSON parsing, and the headers
//     X-Portico-Timestamp (Unix seconds) and X-Portico-Signature
//     ("sha256=" and the hex HMAC-SHA256, keyed with the shared secret,
//     of the timestamp, a ".", and the body).
//  2. Call Verify(secret, timestamp, signature, body, time.Now(),
//     5*time.Minute). It answers nil only when the signature matches
//     (compared in constant time) and the timestamp is within tolerance
//     of now, either way: a captured request cannot be replayed later.
//  3. Dedupe on X-Portico-Event-Id: delivery is at least once, and a
//     retry carries the same ID (with a new timestamp and signature).
//  4. Answer 2xx once the alert is stored. Any other answer, or none
//     within the sender's timeout, makes Portico try again later;
//     redirects are not followed.
//
// It answers ErrStaleTimestamp or ErrBadSignature (a malformed header is
// ErrBadSignature too).
func Verify(secret []byte, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	if len(secret) == 0 {
		return ErrBadSignature
	}
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil || sec < 0 || strings.HasPrefix(timestamp, "+") {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrStaleTimestamp
	}
	got, ok := strings.CutPrefix(signature, "sha256=")
	if !ok {
		return ErrBadSignature
	}
	mac, err := hex.DecodeString(got)
	if err != nil {
		return ErrBadSignature
	}
	want, _ := hex.DecodeString(strings.TrimPrefix(sign(secret, timestamp, body), "sha256="))
	if !hmac.Equal(mac, want) {
		return ErrBadSignature
	}
	return nil
}
