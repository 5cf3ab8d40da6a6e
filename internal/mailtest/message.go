package mailtest

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"regexp"
	"strings"

	"golang.org/x/text/encoding/ianaindex"
)

// Message is one message that the server accepted.
type Message struct {
	From    string   // envelope sender (MAIL FROM)
	To      []string // envelope recipients (RCPT TO)
	Subject string   // the Subject header, RFC 2047 encoded words decoded
	// Text is the first text/plain body (the whole body of a single-part
	// message, or the first text/plain part of a multipart one), with its
	// transfer encoding (quoted-printable, base64) and charset decoded to
	// UTF-8 and line ends as "\n". It is "" when there is no such part.
	Text   string
	Header mail.Header // the message's header fields, as sent
	Raw    []byte      // the message exactly as received after DATA
}

// urlPattern finds http and https URLs in text: a URL runs to the next
// space or character that cannot appear in one unescaped.
var urlPattern = regexp.MustCompile(`https?://[^\s<>"'` + "`" + `]+`)

// URLs returns the http and https URLs in Text, in order, without the
// punctuation that ends a sentence after them. Tests use it to follow
// verification and reset links.
func (m Message) URLs() []string {
	var out []string
	for _, u := range urlPattern.FindAllString(m.Text, -1) {
		out = append(out, strings.TrimRight(u, ".,;:!?)]}"))
	}
	return out
}

// URL returns the first URL in Text that starts with prefix, or "".
func (m Message) URL(prefix string) string {
	for _, u := range m.URLs() {
		if strings.HasPrefix(u, prefix) {
			return u
		}
	}
	return ""
}

// parse fills Subject, Text and Header from raw. On error it returns what
// it could decode, Raw always set.
func parse(raw []byte) (Message, error) {
	m := Message{Raw: raw}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return m, fmt.Errorf("header: %w", err)
	}
	m.Header = msg.Header
	dec := &mime.WordDecoder{CharsetReader: charsetReader}
	if m.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		m.Subject = msg.Header.Get("Subject")
	}
	text, found, err := textPart(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body, 0)
	if found {
		m.Text = text
	}
	return m, err
}

// maxDepth bounds nested multiparts; real mail nests two or three deep.
const maxDepth = 8

// textPart returns the decoded first text/plain body in an entity with
// the given Content-Type and Content-Transfer-Encoding. found is false
// when the entity holds no text/plain part.
func textPart(contentType, encoding string, body io.Reader, depth int) (text string, found bool, err error) {
	if depth > maxDepth {
		return "", false, errors.New("multipart nested too deep")
	}
	mediaType, params := "text/plain", map[string]string{"charset": "us-ascii"}
	if contentType != "" {
		if mediaType, params, err = mime.ParseMediaType(contentType); err != nil {
			return "", false, fmt.Errorf("Content-Type %q: %w", contentType, err)
		}
	}
	switch {
	case strings.HasPrefix(mediaType, "multipart/"):
		mr := multipart.NewReader(decodeTransfer(encoding, body), params["boundary"])
		for {
			// NextRawPart, not NextPart: NextPart decodes quoted-printable
			// itself and hides the header, which would decode it twice.
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return "", false, nil
			}
			if err != nil {
				return "", false, err
			}
			if text, found, err := textPart(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, depth+1); found || err != nil {
				return text, found, err
			}
		}
	case mediaType == "text/plain":
		b, err := io.ReadAll(decodeTransfer(encoding, body))
		if err != nil {
			return "", true, fmt.Errorf("%s body: %w", encoding, err)
		}
		s, err := toUTF8(params["charset"], b)
		return strings.ReplaceAll(s, "\r\n", "\n"), true, err
	}
	return "", false, nil
}

// decodeTransfer undoes a Content-Transfer-Encoding.
func decodeTransfer(encoding string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	case "base64":
		// The decoder skips the line breaks between base64 lines.
		return base64.NewDecoder(base64.StdEncoding, r)
	}
	return r // 7bit, 8bit, binary or none
}

// toUTF8 converts b from charset to UTF-8.
func toUTF8(charset string, b []byte) (string, error) {
	switch strings.ToLower(charset) {
	case "", "utf-8", "utf8", "us-ascii":
		return string(b), nil
	}
	r, err := charsetReader(charset, bytes.NewReader(b))
	if err != nil {
		return string(b), err
	}
	out, err := io.ReadAll(r)
	return string(out), err
}

func charsetReader(charset string, r io.Reader) (io.Reader, error) {
	enc, err := ianaindex.MIME.Encoding(charset)
	if err != nil || enc == nil {
		return nil, fmt.Errorf("unknown charset %q", charset)
	}
	return enc.NewDecoder().Reader(r), nil
}
