package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"

	"github.com/portico/portico/internal/apperr"
)

// The form token is a signed double-submit token: a random value in a
// __Host- cookie, and in each form the HMAC of that value under a server
// secret. Another site can neither read the cookie nor compute the HMAC.
// Browsers never need it (Fetch Metadata decides for them); it guards
// clients that send neither Sec-Fetch-Site nor Origin; forms send it as a
// field, the passkey script as the X-CSRF-Token header.
const (
	csrfCookie = "__Host-portico-csrf"
	// CSRFField is the name of the hidden form field that carries the token.
	CSRFField = "csrf_token"
)

var errCrossOrigin = apperr.New(apperr.Forbidden, "This request came from another site and was refused. If you meant to do this, go back to Portico and try again from there.")

var errFormToken = apperr.New(apperr.Forbidden, "This form has expired or did not come from Portico. Reload the page and try again.")

// formToken returns the token to put in this page's forms, setting the
// cookie it is bound to if the browser does not have one yet.
func (s *Server) formToken(w http.ResponseWriter, r *http.Request) string {
	value := ""
	if c, err := r.Cookie(csrfCookie); err == nil && validCookieValue(c.Value) {
		value = c.Value
	} else {
		value = rand.Text()
		http.SetCookie(w, &http.Cookie{
			Name:     csrfCookie,
			Value:    value,
			Path:     "/",
			Secure:   true,
			HttpOnly: true,
			SameSite: http.SameSiteLaxMode,
		})
	}
	return s.signFormToken(value)
}

func (s *Server) signFormToken(cookieValue string) string {
	m := hmac.New(sha256.New, s.csrfKey)
	m.Write([]byte("portico form token\x00"))
	m.Write([]byte(cookieValue))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// validCookieValue accepts only what formToken issues (rand.Text: 26
// base32 characters), so odd cookies are replaced rather than signed.
func validCookieValue(v string) bool {
	if len(v) != 26 {
		return false
	}
	for _, c := range v {
		if !(c >= 'A' && c <= 'Z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// checkFormToken verifies the token of a request that carries no Fetch
// Metadata or Origin header. The comparison is constant-time.
func (s *Server) checkFormToken(r *http.Request) error {
	// Read the body first, so that an oversized or malformed one is
	// reported as such (413, 400) rather than as a missing token.
	// JSON requests (the passkey ceremonies) carry it in a header.
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		if err := parseForm(r); err != nil {
			return err
		}
		got = r.PostForm.Get(CSRFField)
	}
	c, err := r.Cookie(csrfCookie)
	if err != nil || !validCookieValue(c.Value) {
		return errFormToken
	}
	want := s.signFormToken(c.Value)
	if got == "" || !hmac.Equal([]byte(got), []byte(want)) {
		return errFormToken
	}
	return nil
}

// parseForm parses a form body into r.PostForm, turning failures into
// errors the renderer shows properly.
func parseForm(r *http.Request) error {
	err := r.ParseForm()
	if err == nil {
		return nil
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return apperr.Wrap(apperr.TooLarge, "The request is too large.", err)
	}
	return apperr.Wrap(apperr.BadRequest, "The form could not be read.", err)
}
