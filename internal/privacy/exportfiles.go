package privacy

import "time"

// The shapes of the export's files. Each is written for the export only,
// never an internal struct serialised as it is: keys are snake_case and
// stable, a time that is not set is null (a pointer from opt), never
// "0001-01-01T00:00:00Z". exportschema/export.schema.json describes each
// file; TestExportMatchesItsSchema holds the two together, so a field
// added here and not there (or the reverse) fails the build.

type exportAccount struct {
	ID                string          `json:"id"`
	Email             string          `json:"email"`
	Name              string          `json:"name"`
	Phone             string          `json:"phone"`
	Role              string          `json:"role"`
	Status            string          `json:"status"`
	CreatedAt         time.Time       `json:"created_at"`
	EmailVerifiedAt   *time.Time      `json:"email_verified_at"`
	LastSignInAt      *time.Time      `json:"last_sign_in_at"`
	PasswordChangedAt *time.Time      `json:"password_changed_at"`
	AuthenticatorOn   bool            `json:"authenticator_app"`
	Passkeys          []exportPasskey `json:"passkeys"`
	RestrictedAt      *time.Time      `json:"processing_restricted_since"`
	// Staff accounts only.
	TrainingCompletedAt *time.Time `json:"training_completed_at,omitempty"`
	ContractorUntil     *time.Time `json:"contractor_until,omitempty"`
}

type exportPasskey struct {
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

type exportSignIn struct {
	ID      string    `json:"id"`
	At      time.Time `json:"at"`
	Success bool      `json:"success"`
	Reason  string    `json:"reason"`
	Method  string    `json:"method"`
	Device  string    `json:"device"`
	Country string    `json:"country"`
	IP      string    `json:"ip"`
	Browser string    `json:"browser"`
}

type exportSession struct {
	CreatedAt  time.Time  `json:"created_at"`
	LastSeenAt time.Time  `json:"last_seen_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	EndedAt    *time.Time `json:"ended_at"`
	EndReason  string     `json:"end_reason,omitempty"`
	Device     string     `json:"device"`
	Country    string     `json:"country"`
	IP         string     `json:"ip"`
	UserAgent  string     `json:"user_agent"`
}

type exportReport struct {
	ID          string     `json:"id"`
	CreatedAt   time.Time  `json:"created_at"`
	Source      string     `json:"source"`
	SignInEvent *string    `json:"sign_in_id"` // an id of sign_ins.json, or null
	Details     string     `json:"details"`
	Status      string     `json:"status"`
	Outcome     *string    `json:"outcome"`
	ClosedAt    *time.Time `json:"closed_at"`
	// Messages are the thread the customer sees: never the security
	// team's internal notes.
	Messages []exportReportMessage `json:"messages"`
}

type exportReportMessage struct {
	From string    `json:"from"` // "you" or "security team"
	Kind string    `json:"kind"`
	At   time.Time `json:"at"`
	Body string    `json:"body"`
}

type exportTicket struct {
	ID        string          `json:"id"`
	Subject   string          `json:"subject"`
	Status    string          `json:"status"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
	ClosedAt  *time.Time      `json:"closed_at"`
	Messages  []exportMessage `json:"messages"`
}

type exportMessage struct {
	From        string             `json:"from"`
	At          time.Time          `json:"at"`
	Body        string             `json:"body"`
	Attachments []exportAttachment `json:"attachments"`
}

type exportAttachment struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	File        string `json:"file"` // its path in the archive
}

type exportGrant struct {
	At     time.Time `json:"at"`
	Who    string    `json:"who"`
	Field  string    `json:"field"`
	Reason string    `json:"reason"`
	Until  time.Time `json:"until"`
}

type exportRisk struct {
	At      time.Time         `json:"at"`
	Kind    string            `json:"kind"`
	Details map[string]string `json:"details"`
}

type exportRequest struct {
	Kind         string     `json:"kind"`
	Status       string     `json:"status"`
	CreatedAt    time.Time  `json:"created_at"`
	DueAt        time.Time  `json:"due_at"`
	ScheduledFor *time.Time `json:"scheduled_for"`
	CompletedAt  *time.Time `json:"completed_at"`
}

type exportToken struct {
	Name       string     `json:"name"`
	Scopes     []string   `json:"scopes"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	LastUsedIP string     `json:"last_used_ip"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

type exportConsents struct {
	PrivacyNotice exportPrivacyNotice `json:"privacy_notice"`
	Consents      []exportConsent     `json:"consents"`
}

type exportPrivacyNotice struct {
	Version          *string               `json:"version"` // the version last accepted; null if none
	AcceptedAt       *time.Time            `json:"accepted_at"`
	SignUp           *exportNoticeAccepted `json:"sign_up"` // null for an account made by staff
	Acknowledgements []exportNoticeAck     `json:"acknowledgements"`
}

type exportNoticeAccepted struct {
	Version    string    `json:"version"`
	AcceptedAt time.Time `json:"accepted_at"`
}

type exportNoticeAck struct {
	Version    string    `json:"version"`
	AcceptedAt time.Time `json:"accepted_at"`
	AtSignUp   bool      `json:"at_sign_up"`
}

type exportConsent struct {
	Purpose       string    `json:"purpose"`
	Granted       bool      `json:"granted"`
	At            time.Time `json:"at"`
	NoticeVersion string    `json:"notice_version"`
}

type exportNotice struct {
	Kind      string     `json:"kind"`
	Title     string     `json:"title"`
	Body      string     `json:"body"`
	CreatedAt time.Time  `json:"created_at"`
	ReadAt    *time.Time `json:"read_at"`
}

// opt is t in UTC, or nil when it is not set.
func opt(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// optString is s, or nil when it is empty.
func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
