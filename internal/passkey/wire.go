package passkey

import (
	"bytes"
	"encoding/json"

	"github.com/portico/portico/internal/apperr"
)

// The JSON that passkey.js exchanges with the begin and finish endpoints
// (internal/web/static/passkey.js documents the page side). Handlers use
// these types so that the two ends cannot drift apart.

// BeginResponse is what a begin endpoint answers: the ceremony's ID and the
// options for navigator.credentials.create or get, as Begin* returned them.
type BeginResponse struct {
	ChallengeID string          `json:"challenge_id"`
	Options     json.RawMessage `json:"options"`
}

// FinishRequest is what passkey.js posts to a finish endpoint.
type FinishRequest struct {
	ChallengeID string `json:"challenge_id"`
	// Credential is the browser's PublicKeyCredential as JSON: pass it as
	// the body argument of FinishRegistration or FinishLogin.
	Credential json.RawMessage `json:"credential"`
	// Name is the label typed for a new passkey (registration only).
	Name string `json:"name,omitempty"`
	// CSRFToken repeats the form's csrf_token field (also sent as the
	// X-CSRF-Token header) for clients without Fetch Metadata.
	CSRFToken string `json:"csrf_token,omitempty"`
}

// FinishResponse is what a finish endpoint answers on success: where the
// browser goes next (a same-origin path).
type FinishResponse struct {
	Redirect string `json:"redirect"`
}

// ErrorResponse is what a begin or finish endpoint answers on failure,
// with a non-2xx status: a message safe to show, which passkey.js puts in
// the form's role="alert" element.
type ErrorResponse struct {
	Error string `json:"error"`
}

// ParseFinish decodes a finish endpoint's body. It is BadRequest for
// anything but one FinishRequest object with a challenge ID and a
// credential.
func ParseFinish(body []byte) (FinishRequest, error) {
	bad := apperr.New(apperr.BadRequest, "The passkey answer could not be read. Try again.")
	if len(body) > maxBody {
		return FinishRequest{}, bad
	}
	var f FinishRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&f); err != nil || dec.More() {
		return FinishRequest{}, bad
	}
	if f.ChallengeID == "" || len(f.ChallengeID) > 64 || len(f.Credential) == 0 || bytes.Equal(f.Credential, []byte("null")) {
		return FinishRequest{}, bad
	}
	return f, nil
}
