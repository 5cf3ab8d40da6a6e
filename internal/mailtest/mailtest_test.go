package mailtest_test

import (
	"encoding/base64"
	"errors"
	"net/smtp"
	"net/textproto"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/mailtest"
)

// send delivers raw with the standard library's client, so that these
// tests control every byte of the message.
func send(s *mailtest.Server, auth smtp.Auth, to string, raw string) error {
	return smtp.SendMail(s.Addr(), auth, "sender@example.test", []string{to}, []byte(strings.ReplaceAll(raw, "\n", "\r\n")))
}

const link = "https://portal.example.test/verify?token=QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODkwYWJjZGVm&next=%2Faccount"

// wrap breaks s into lines of n characters, as mail encoders do.
func wrap(s string, n int) string {
	var b strings.Builder
	for len(s) > n {
		b.WriteString(s[:n] + "\n")
		s = s[n:]
	}
	return b.String() + s + "\n"
}

// TestTextDecoding checks that Text is the readable body, whatever the
// sender's encoding: quoted-printable with soft line breaks inside a link,
// base64, multipart/alternative, another charset; and that the link comes
// out whole.
func TestTextDecoding(t *testing.T) {
	s := mailtest.Start(t)
	for _, tc := range []struct {
		name, raw, subject, text string
	}{
		{
			name: "quoted-printable with soft breaks",
			raw: "Subject: =?UTF-8?q?Best=C3=A4tigen?=\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: quoted-printable\n\n" +
				"Gr=C3=BC=C3=9Fe! Open https://portal.example.test/verify?token=3DQUJDREVGR0hJS=\nktMTU5PUFFSU1RVVldYWVo0NTY3ODkwYWJjZGVm&next=3D%2Faccount.\n",
			subject: "Bestätigen",
			text:    "Grüße! Open https://portal.example.test/verify?token=QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODkwYWJjZGVm&next=%2Faccount.\n",
		},
		{
			name:    "base64",
			raw:     "Subject: =?utf-8?b?w6l0w6k=?=\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n" + wrap(base64.StdEncoding.EncodeToString([]byte("été - "+link+"\n")), 76),
			subject: "été",
			text:    "été - " + link + "\n",
		},
		{
			name: "multipart alternative",
			raw: "Subject: Multi\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=\"b1\"\n\n--b1\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: quoted-printable\n\n" +
				"Click " + strings.ReplaceAll(link, "=", "=3D") + "\n--b1\nContent-Type: text/html\n\n<p>HTML</p>\n--b1--\n",
			subject: "Multi",
			text:    "Click " + link,
		},
		{
			name:    "latin-1",
			raw:     "Subject: Latin\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\nZ=FCrich\n",
			subject: "Latin",
			text:    "Zürich\n",
		},
		{
			name:    "no MIME headers",
			raw:     "Subject: Plain\n\nJust text.\nTwo lines.\n",
			subject: "Plain",
			text:    "Just text.\nTwo lines.\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := send(s, nil, "rcpt@example.test", tc.raw); err != nil {
				t.Fatal(err)
			}
			m := s.WaitFor(t, func(m mailtest.Message) bool { return m.Subject == tc.subject }, 5*time.Second)
			if m.Text != tc.text {
				t.Errorf("Text =\n%q\nwant\n%q", m.Text, tc.text)
			}
			if tc.name != "latin-1" && tc.name != "no MIME headers" {
				if got := m.URL("https://portal.example.test/"); got != link {
					t.Errorf("URL = %q, want %q", got, link)
				}
			}
			if m.From != "sender@example.test" || len(m.To) != 1 || m.To[0] != "rcpt@example.test" {
				t.Errorf("envelope %q -> %q", m.From, m.To)
			}
			if !strings.Contains(string(m.Raw), "Subject:") {
				t.Error("Raw lacks the header")
			}
		})
	}
}

// TestFailures checks the injected refusals: temporary ones first, then
// permanent ones, then acceptance.
func TestFailures(t *testing.T) {
	s := mailtest.Start(t, mailtest.TemporaryFailures(1), mailtest.PermanentFailures(1))
	wantCode := func(err error, code int) {
		t.Helper()
		var te *textproto.Error
		if !errors.As(err, &te) || te.Code != code {
			t.Errorf("error = %v, want SMTP %d", err, code)
		}
	}
	wantCode(send(s, nil, "a@example.test", "Subject: 1\n\nx\n"), 451)
	wantCode(send(s, nil, "a@example.test", "Subject: 2\n\nx\n"), 554)
	if err := send(s, nil, "a@example.test", "Subject: 3\n\nx\n"); err != nil {
		t.Fatal(err)
	}
	if got := s.Attempts(); got != 3 {
		t.Errorf("Attempts = %d, want 3", got)
	}
	if msgs := s.Messages(); len(msgs) != 1 || msgs[0].Subject != "3" {
		t.Errorf("Messages = %+v", msgs)
	}
}

// TestRequireAuth checks that a server with RequireAuth refuses mail
// without the right credentials, and that URL carries them.
func TestRequireAuth(t *testing.T) {
	s := mailtest.Start(t, mailtest.RequireAuth("user", "pass word"))
	host := strings.Split(s.Addr(), ":")[0]
	if err := send(s, nil, "a@example.test", "Subject: x\n\nx\n"); err == nil {
		t.Error("accepted without AUTH")
	}
	if err := send(s, smtp.PlainAuth("", "user", "wrong", host), "a@example.test", "Subject: x\n\nx\n"); err == nil {
		t.Error("accepted a wrong password")
	}
	if err := send(s, smtp.PlainAuth("", "user", "pass word", host), "a@example.test", "Subject: ok\n\nx\n"); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	if pw, _ := u.User.Password(); u.User.Username() != "user" || pw != "pass word" {
		t.Errorf("URL credentials = %v", u.User)
	}
}

// TestURL checks the --smtp-url value that the server gives.
func TestURL(t *testing.T) {
	s := mailtest.Start(t)
	want := "smtp://" + s.Addr() + "?tls=none&from=portico@example.test"
	if s.URL() != want {
		t.Errorf("URL = %q, want %q", s.URL(), want)
	}
	if !strings.HasPrefix(s.Addr(), "127.0.0.1:") {
		t.Errorf("Addr = %q, want loopback", s.Addr())
	}
}
