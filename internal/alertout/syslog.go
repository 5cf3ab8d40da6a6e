package alertout

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"net"
	"strconv"
	"strings"
	"time"
)

// The syslog message (RFC 5424):
//
//	<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID alert [portico@32473 event="…" id="…" rule="…" severity="…"] {payload JSON}
//
// PRI is facility authpriv (10, security/authorization messages) times 8
// plus the severity mapped from the payload's "severity" (see
// syslogSeverity). TIMESTAMP is when the alert was queued, not when this
// attempt sends it, in UTC with microseconds. The structured data element
// repeats the payload's "id", "rule" and "severity" (those present), and
// event is the outbox row ID, which a retry keeps, for deduplication.
// 32473 is the private enterprise number that RFC 5612 reserves for
// documentation; a site with its own number can change sdID. MSG is the
// payload JSON as queued (UTF-8, no BOM).
const (
	facilityAuthpriv = 10
	msgID            = "alert"
	sdID             = "portico@32473"
)

// Syslog severities (RFC 5424, section 6.2.1).
const (
	sevCritical = 2
	sevError    = 3
	sevWarning  = 4
)

// syslogSeverity maps the alert's severity to syslog's: low is warning
// (4), medium error (3), high and critical critical (2). A missing or
// unknown severity is error (3): an alert is never filed below medium
// because its severity could not be read.
func syslogSeverity(severity string) int {
	switch strings.ToLower(severity) {
	case "low":
		return sevWarning
	case "medium":
		return sevError
	case "high", "critical":
		return sevCritical
	}
	return sevError
}

// syslogMessage builds the RFC 5424 message for alert a.
func (s *Service) syslogMessage(a claimed) []byte {
	fields := payloadFields(a.payload, "id", "rule", "severity")
	pri := facilityAuthpriv*8 + syslogSeverity(fields["severity"])

	var b strings.Builder
	b.WriteString("<" + strconv.Itoa(pri) + ">1 ")
	b.WriteString(a.createdAt.UTC().Format("2006-01-02T15:04:05.000000Z"))
	b.WriteString(" " + s.hostname + " " + s.appName + " " + headerField(s.procID, 128) + " " + msgID + " ")
	b.WriteString("[" + sdID)
	writeParam(&b, "event", a.id)
	for _, name := range []string{"id", "rule", "severity"} {
		if v, ok := fields[name]; ok {
			writeParam(&b, name, v)
		}
	}
	b.WriteString("] ")
	b.Write(a.payload)
	return []byte(b.String())
}

// writeParam writes ` name="value"` with the value escaped as RFC 5424
// (section 6.3.3) requires: '"', '\' and ']' get a backslash.
func writeParam(b *strings.Builder, name, value string) {
	b.WriteString(" " + name + `="`)
	for _, r := range value {
		if r == '"' || r == '\\' || r == ']' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
}

// payloadFields reads the named top-level fields of a JSON object: a
// string as its text, any other value as its JSON. Absent and null fields
// (or a payload that is not an object) are left out.
func payloadFields(payload []byte, names ...string) map[string]string {
	var obj map[string]json.RawMessage
	_ = json.Unmarshal(payload, &obj)
	out := map[string]string{}
	for _, n := range names {
		raw, ok := obj[n]
		if !ok || string(raw) == "null" {
			continue
		}
		var str string
		if json.Unmarshal(raw, &str) == nil {
			out[n] = str
		} else {
			out[n] = string(raw)
		}
	}
	return out
}

// headerField makes v a valid RFC 5424 header field: printable US-ASCII
// without spaces, at most max characters, "-" (the nil value) when empty.
func headerField(v string, max int) string {
	v = strings.Map(func(r rune) rune {
		if r < 33 || r > 126 {
			return -1
		}
		return r
	}, v)
	if len(v) > max {
		v = v[:max]
	}
	if v == "" {
		return "-"
	}
	return v
}

// frame is RFC 5425 octet counting: MSG-LEN SP SYSLOG-MSG.
func frame(msg []byte) []byte {
	return append([]byte(strconv.Itoa(len(msg))+" "), msg...)
}

// syslogTLSConfig is the collector's TLS configuration: the caller's (or
// the system's roots), with TLS 1.2 at least and the server name from the
// address when it has none.
func syslogTLSConfig(base *tls.Config, addr string) *tls.Config {
	var c *tls.Config
	if base != nil {
		c = base.Clone()
	} else {
		c = &tls.Config{}
	}
	if c.MinVersion < tls.VersionTLS12 {
		c.MinVersion = tls.VersionTLS12
	}
	if c.ServerName == "" {
		c.ServerName, _, _ = net.SplitHostPort(addr)
	}
	return c
}

// syslogConn is the TLS connection to the collector for one delivery pass,
// dialled at the first syslog alert. When the dial fails, the pass's other
// syslog alerts fail the same way without dialling again.
type syslogConn struct {
	s       *Service
	conn    *tls.Conn
	dialErr string // the reason the dial failed, once it has
}

// send writes one framed alert. RFC 5425 has no acknowledgement: the alert
// counts as delivered once the TLS write completes. Before reusing the
// connection it checks that the collector has not closed it, so an alert
// is not written into a connection that is already gone.
func (c *syslogConn) send(ctx context.Context, a claimed) outcome {
	if c.dialErr != "" {
		return outcome{reason: c.dialErr}
	}
	if c.conn != nil && !alive(c.conn) {
		c.close()
	}
	if c.conn == nil {
		ctx, cancel := context.WithTimeout(ctx, c.s.timeout)
		defer cancel()
		d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: c.s.timeout}, Config: c.s.syslogTLS}
		conn, err := d.DialContext(ctx, "tcp", c.s.syslogAddr)
		if err != nil {
			c.s.log.Warn("cannot reach the syslog collector", "error", err)
			c.dialErr = "syslog: " + transportReason(err)
			return outcome{reason: c.dialErr}
		}
		c.conn = conn.(*tls.Conn)
	}
	_ = c.conn.SetWriteDeadline(time.Now().Add(c.s.timeout))
	if _, err := c.conn.Write(frame(c.s.syslogMessage(a))); err != nil {
		c.s.log.Warn("syslog connection lost while sending an alert", "alert_outbox_id", a.id, "error", err)
		c.close()
		return outcome{reason: "syslog: connection lost while writing"}
	}
	return outcome{sent: true}
}

// alive reports whether the collector still holds the connection open: a
// read that times out at once means nothing arrived, not even a close.
func alive(conn *tls.Conn) bool {
	_ = conn.SetReadDeadline(time.Now().Add(time.Millisecond))
	var one [1]byte
	_, err := conn.Read(one[:])
	_ = conn.SetReadDeadline(time.Time{})
	if err == nil {
		return true // the collector said something; it is still there
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (c *syslogConn) close() {
	if c.conn != nil {
		_ = c.conn.Close()
		c.conn = nil
	}
}
