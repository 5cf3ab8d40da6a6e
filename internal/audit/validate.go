package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Bounds on the stored fields. They keep one event small (the chain is
// read in full by every verify) and stop a request from filling the trail
// with megabytes of header.
const (
	maxActor     = 128
	maxAction    = 64
	maxTarget    = 256
	maxIP        = 64
	maxUserAgent = 512
	maxRequestID = 128
	maxDetails   = 8 << 10 // bytes of canonical JSON
)

// newRecord validates e, fills what ctx carries and encodes Details. It
// does not touch the database.
//
// Fields that the code chooses (actor, action, target, outcome, details)
// are rejected when they are wrong: that is a bug to fix. Fields that come
// from the client (IP, user agent, request ID) are cleaned instead: a
// hostile or odd header must not make a legitimate change fail.
func newRecord(ctx context.Context, e Event) (Record, error) {
	if e.Actor == "" {
		e.Actor = ActorFrom(ctx)
	}
	if e.Actor == "" {
		e.Actor = ActorAnonymous
	}
	req := RequestFrom(ctx)
	if e.IP == "" {
		e.IP = req.IP
	}
	if e.UserAgent == "" {
		e.UserAgent = req.UserAgent
	}
	if e.RequestID == "" {
		e.RequestID = req.RequestID
	}

	if err := checkAction(e.Action); err != nil {
		return Record{}, err
	}
	switch e.Outcome {
	case Success, Failure, Denied:
	case "":
		return Record{}, invalid("event %s: outcome is required (success, failure or denied)", e.Action)
	default:
		return Record{}, invalid("event %s: outcome %q is not success, failure or denied", e.Action, e.Outcome)
	}
	if err := checkID(e.Action, "actor", e.Actor, maxActor); err != nil {
		return Record{}, err
	}
	if err := checkID(e.Action, "target", e.Target, maxTarget); err != nil {
		return Record{}, err
	}
	details, err := encodeDetails(e.Action, e.Details)
	if err != nil {
		return Record{}, err
	}
	return Record{
		Actor:     e.Actor,
		Action:    e.Action,
		Target:    e.Target,
		Outcome:   e.Outcome,
		IP:        clean(e.IP, maxIP),
		UserAgent: clean(e.UserAgent, maxUserAgent),
		RequestID: clean(e.RequestID, maxRequestID),
		Details:   details,
	}, nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("audit: %w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// checkAction accepts dotted lower-case names ("account.create",
// "session.step-up"): they are grouped and searched by prefix.
func checkAction(a string) error {
	if a == "" {
		return invalid("action is required")
	}
	if len(a) > maxAction {
		return invalid("action %.20q… is longer than %d bytes", a, maxAction)
	}
	for i := 0; i < len(a); i++ {
		c := a[i]
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' ||
			c == '.' && i > 0 && i < len(a)-1 && a[i-1] != '.'
		if !ok {
			return invalid("action %q: want dotted lower case such as account.create", a)
		}
	}
	return nil
}

// checkID accepts an opaque ID: valid UTF-8 without control characters
// (which could forge lines in a viewer), at most max bytes.
func checkID(action, field, v string, max int) error {
	if len(v) > max {
		return invalid("event %s: %s is longer than %d bytes", action, field, max)
	}
	if !utf8.ValidString(v) {
		return invalid("event %s: %s is not valid UTF-8", action, field)
	}
	if strings.IndexFunc(v, unicode.IsControl) >= 0 {
		return invalid("event %s: %s holds a control character", action, field)
	}
	return nil
}

// clean makes a client-supplied value storable: valid UTF-8, no control
// characters (PostgreSQL refuses NUL in text; newlines forge log lines),
// at most max bytes, cut on a character boundary.
func clean(v string, max int) string {
	v = strings.ToValidUTF8(v, "\uFFFD")
	if strings.IndexFunc(v, unicode.IsControl) >= 0 {
		v = strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return -1
			}
			return r
		}, v)
	}
	if len(v) <= max {
		return v
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(v[cut]) {
		cut--
	}
	return v[:cut]
}

// encodeDetails returns the canonical JSON of d: an object with its keys
// sorted at every level (encoding/json sorts map keys), no HTML escaping
// and no insignificant space. A nil or empty map is "{}". What is returned
// is what is stored and hashed, byte for byte.
func encodeDetails(action string, d map[string]any) (json.RawMessage, error) {
	if len(d) == 0 {
		return json.RawMessage("{}"), nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(d); err != nil {
		return nil, invalid("event %s: details do not marshal to JSON: %v", action, err)
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if len(b) > maxDetails {
		return nil, invalid("event %s: details are %d bytes of JSON, more than %d", action, len(b), maxDetails)
	}
	// Walk the encoded form, not d, so that keys inside structs and typed
	// maps are checked as well.
	var tree any
	if err := json.Unmarshal(b, &tree); err != nil {
		return nil, invalid("event %s: details do not round-trip through JSON: %v", action, err)
	}
	if key, ok := forbiddenKey(tree); ok {
		return nil, invalid("event %s: details key %q names a secret or personal field; audit events must not hold one", action, key)
	}
	return json.RawMessage(b), nil
}

// forbiddenKeys are detail keys (lower case, without '_', '-', '.' or
// spaces) that almost always carry a secret or personal data. The list is
// a safety net for obvious mistakes, not the rule itself: the rule is that
// Details holds no secret and no personal field at all.
var forbiddenKeys = map[string]bool{
	"password": true, "passwd": true, "passphrase": true, "secret": true, "clientsecret": true,
	"token": true, "accesstoken": true, "refreshtoken": true, "sessiontoken": true, "bearer": true,
	"apikey": true, "privatekey": true, "otp": true, "totpcode": true, "recoverycode": true,
	"cookie": true, "authorization": true,
	"email": true, "emailaddress": true, "phone": true, "phonenumber": true,
}

// forbiddenKey reports the first key in v (at any depth) that names a
// secret or personal field.
func forbiddenKey(v any) (string, bool) {
	switch v := v.(type) {
	case map[string]any:
		for k, vv := range v {
			n := strings.Map(func(r rune) rune {
				switch r {
				case '_', '-', '.', ' ':
					return -1
				}
				return unicode.ToLower(r)
			}, k)
			if forbiddenKeys[n] || strings.HasSuffix(n, "password") {
				return k, true
			}
			if k, ok := forbiddenKey(vv); ok {
				return k, true
			}
		}
	case []any:
		for _, vv := range v {
			if k, ok := forbiddenKey(vv); ok {
				return k, true
			}
		}
	}
	return "", false
}
