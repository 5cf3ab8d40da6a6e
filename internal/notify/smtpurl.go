package notify

import (
	"errors"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
)

// smtpConfig is a parsed --smtp-url.
type smtpConfig struct {
	host        string
	port        int
	implicitTLS bool // smtps://: TLS from the first byte
	noTLS       bool // ?tls=none: plain text, for a local relay or tests
	user, pass  string
	from        string // the From address, as given
	fromDomain  string // the domain of the From address, for Message-IDs
}

// loopback reports whether the server is on this machine, where plain text
// never leaves the host.
func (c *smtpConfig) loopback() bool {
	if strings.EqualFold(c.host, "localhost") {
		return true
	}
	ip := net.ParseIP(c.host)
	return ip != nil && ip.IsLoopback()
}

// errSMTPURL builds a --smtp-url error. The message never includes the
// value: it may hold the password.
func errSMTPURL(msg string) error { return errors.New("--smtp-url: " + msg) }

// parseSMTPURL validates Portico's --smtp-url setting:
//
//	smtps://user:pass@host:465?from=portico@example.com   implicit TLS
//	smtp://user:pass@host:587?from=portico@example.com    STARTTLS, required
//	smtp://127.0.0.1:25?tls=none&from=portico@example.com plain text
//
// Errors name the setting and what is wrong, never the value, since the
// value may hold the password. (url.Parse's own errors quote the whole
// URL, so they are not wrapped either.)
func parseSMTPURL(raw string) (*smtpConfig, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errSMTPURL("not a valid URL (write smtps://user:password@host:465?from=address; percent-encode special characters in the user name and password)")
	}
	c := &smtpConfig{}
	switch u.Scheme {
	case "smtps":
		c.implicitTLS = true
		c.port = 465
	case "smtp":
		c.port = 587
	default:
		return nil, errSMTPURL("the scheme must be smtps:// (implicit TLS) or smtp:// (STARTTLS)")
	}
	if u.Opaque != "" || u.Host == "" {
		return nil, errSMTPURL("no mail server host: write " + u.Scheme + "://host:port?from=address")
	}
	if (u.Path != "" && u.Path != "/") || u.Fragment != "" {
		return nil, errSMTPURL("a path or #fragment is not allowed; settings go in the query (?from=address&tls=none)")
	}
	c.host = u.Hostname()
	if c.host == "" {
		return nil, errSMTPURL("no mail server host")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, errSMTPURL("the port must be a number from 1 to 65535")
		}
		c.port = n
	}
	if u.User != nil {
		c.user = u.User.Username()
		c.pass, _ = u.User.Password()
		switch {
		case c.user == "":
			return nil, errSMTPURL("a password is given without a user name")
		case c.pass == "":
			return nil, errSMTPURL("a user name is given without a password")
		}
	}

	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, errSMTPURL("the query string does not parse")
	}
	for k, v := range q {
		switch k {
		case "from", "tls":
			if len(v) != 1 {
				return nil, errSMTPURL(k + "= is given more than once")
			}
		default:
			return nil, errSMTPURL("unknown query parameter " + strconv.Quote(k) + " (known: from, tls)")
		}
	}
	switch q.Get("tls") {
	case "":
	case "none":
		if c.implicitTLS {
			return nil, errSMTPURL("tls=none contradicts smtps://; use smtp://host:port?tls=none for a plain-text relay")
		}
		c.noTLS = true
	default:
		return nil, errSMTPURL(`tls= may only be "none" (smtp:// requires STARTTLS otherwise; smtps:// is TLS from the start)`)
	}
	if c.noTLS && c.user != "" && !c.loopback() {
		return nil, errSMTPURL("refusing to send the mail server password in plain text (tls=none) to a host that is not loopback; use smtps:// or smtp:// with STARTTLS")
	}

	from := q.Get("from")
	if from == "" {
		return nil, errSMTPURL("from= is required: the address that Portico's mail comes from, e.g. ?from=portico@example.com")
	}
	a, err := mail.ParseAddress(from)
	if err != nil || strings.ContainsAny(from, "\r\n") {
		return nil, errSMTPURL("from= is not an email address (e.g. portico@example.com or \"Portico <portico@example.com>\")")
	}
	at := strings.LastIndexByte(a.Address, '@')
	if at < 1 || at == len(a.Address)-1 {
		return nil, errSMTPURL("from= is not an email address with a domain")
	}
	c.from = from
	c.fromDomain = a.Address[at+1:]
	return c, nil
}
