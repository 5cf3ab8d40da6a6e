package vendorcheck

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

const (
	// hstsMinAge is the max-age HSTS needs to pass: one year, in seconds.
	hstsMinAge = 365 * 24 * 60 * 60
	// securityTxtMax bounds the read of security.txt.
	securityTxtMax = 32 << 10
	maxRedirects   = 5
)

// newClient makes the client of the two GETs: the probe's versions and
// suites, the chain verified again, no proxy, redirects followed only on
// the same host over https, each request bounded by the timeout.
func newClient(host string, opts Options) *http.Client {
	cfg := probeConfig(host)
	cfg.RootCAs = opts.Roots
	cfg.Time = opts.Now
	return &http.Client{
		Timeout: opts.Timeout,
		Transport: &http.Transport{
			Proxy:               nil,
			TLSClientConfig:     cfg,
			TLSHandshakeTimeout: opts.Timeout,
			DisableCompression:  true,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects || req.URL.Scheme != "https" || req.URL.Host != via[0].URL.Host {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
}

func get(ctx context.Context, client *http.Client, u *url.URL) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "Portico-vendorcheck")
	return client.Do(req)
}

// checkHSTS reads Strict-Transport-Security on a GET of the endpoint (the
// body is not read). The first header counts (RFC 6797 §8.1); after a
// redirect off the host it is the redirect's own header, which browsers
// honour too.
func checkHSTS(ctx context.Context, client *http.Client, u *url.URL) Item {
	it := Item{Name: ItemHSTS}
	resp, err := get(ctx, client, u)
	if err != nil {
		it.Status, it.Reason = Fail, "GET of the endpoint failed"
		return it
	}
	resp.Body.Close()
	h := resp.Header.Get("Strict-Transport-Security")
	if h == "" {
		it.Status, it.Reason = Fail, "no Strict-Transport-Security header"
		return it
	}
	age, ok := hstsMaxAge(h)
	if !ok {
		it.Status, it.Reason = Fail, "Strict-Transport-Security has no valid max-age"
		return it
	}
	it.Figure = "max-age=" + strconv.FormatInt(age, 10)
	switch {
	case age == 0:
		it.Status, it.Reason = Fail, "max-age=0 turns HSTS off"
	case age < hstsMinAge:
		it.Status, it.Reason = Warn, "max-age under one year"
	default:
		it.Status, it.Reason = Pass, "HSTS for at least one year"
	}
	return it
}

// hstsMaxAge returns the max-age directive of a Strict-Transport-Security
// value (RFC 6797 §6.1: directives separated by ";", names
// case-insensitive, the value possibly quoted). A repeated max-age makes
// the header invalid.
func hstsMaxAge(h string) (int64, bool) {
	var age int64
	found := false
	for d := range strings.SplitSeq(h, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), "=")
		if !strings.EqualFold(strings.TrimSpace(name), "max-age") {
			continue
		}
		if found {
			return 0, false
		}
		value = strings.Trim(strings.TrimSpace(value), `"`)
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil || n < 0 {
			return 0, false
		}
		age, found = n, true
	}
	return age, found
}

// checkSecurityTxt fetches /.well-known/security.txt (RFC 9116): it must
// answer 200 with text/plain and hold a Contact: field, in at most 32 KiB.
// Its absence warns: it is good practice, not a defence.
func checkSecurityTxt(ctx context.Context, client *http.Client, u *url.URL) Item {
	it := Item{Name: ItemSecurityTxt}
	st := &url.URL{Scheme: "https", Host: u.Host, Path: "/.well-known/security.txt"}
	it.Figure = st.Path
	resp, err := get(ctx, client, st)
	if err != nil {
		it.Status, it.Reason = Warn, "GET of security.txt failed"
		return it
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		it.Status, it.Reason = Warn, fmt.Sprintf("no security.txt (HTTP %d)", resp.StatusCode)
		return it
	}
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "text/plain" {
		it.Status, it.Reason = Warn, "security.txt is not text/plain"
		return it
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, securityTxtMax+1))
	if err != nil && !errors.Is(err, io.EOF) {
		it.Status, it.Reason = Warn, "security.txt could not be read"
		return it
	}
	if len(body) > securityTxtMax {
		it.Status, it.Reason = Warn, "security.txt is larger than 32 KiB"
		return it
	}
	if !hasContact(body) {
		it.Status, it.Reason = Warn, "security.txt has no Contact: field"
		return it
	}
	it.Status, it.Reason = Pass, "security.txt with a Contact: field"
	return it
}

func hasContact(body []byte) bool {
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 4096), securityTxtMax+1)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.EqualFold(strings.TrimSpace(name), "contact") && strings.TrimSpace(value) != "" {
			return true
		}
	}
	return false
}
