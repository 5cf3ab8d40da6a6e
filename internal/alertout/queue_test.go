package alertout

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
)

// TestQueue: Queue writes one row per configured channel, all with the
// same payload, inside the caller's transaction (a rollback leaves
// nothing), and nothing at all when no channel is configured (CP-8.1).
func TestQueue(t *testing.T) {
	a := alert{ID: "al_1", Rule: "credential-stuffing", Severity: "high", Count: 42}
	wantPayload, _ := json.Marshal(a)
	for _, tc := range []struct {
		name         string
		cfg          Config
		wantChannels []string
	}{
		{"writes nothing with no channel configured", Config{}, nil},
		{"writes a webhook row", Config{WebhookURL: "https://siem.example/hook", WebhookSecret: testSecret}, []string{"webhook"}},
		{"writes a syslog row", Config{SyslogAddr: "siem.example:6514"}, []string{"syslog"}},
		{"writes a row per channel", Config{WebhookURL: "https://siem.example/hook", WebhookSecret: testSecret, SyslogAddr: "siem.example:6514"}, []string{"syslog", "webhook"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, d *db.DB) {
				s, _ := newTestService(t, d, tc.cfg)
				queue(t, s, a)
				var got []string
				for _, r := range rows(t, d) {
					got = append(got, r.channel)
					if r.payload != string(wantPayload) || r.status != "pending" || r.attempts != 0 {
						t.Errorf("row = %+v, want pending, 0 attempts, payload %s", r, wantPayload)
					}
				}
				if strings.Join(got, ",") != strings.Join(tc.wantChannels, ",") {
					t.Fatalf("channels = %v, want %v", got, tc.wantChannels)
				}
			})
		})
	}

	t.Run("writes in the caller's transaction", func(t *testing.T) {
		dbtest.Each(t, func(t *testing.T, d *db.DB) {
			s, _ := newTestService(t, d, Config{SyslogAddr: "siem.example:6514"})
			err := d.Transact(context.Background(), func(tx *db.Tx) error {
				if err := s.Queue(context.Background(), tx, a); err != nil {
					return err
				}
				return errRollback
			})
			if !errors.Is(err, errRollback) {
				t.Fatalf("Transact = %v", err)
			}
			if n := len(rows(t, d)); n != 0 {
				t.Fatalf("%d rows after rollback, want 0", n)
			}
		})
	})

	t.Run("refuses a payload that is not a JSON object", func(t *testing.T) {
		d := dbtest.SQLite(t, dbtest.Options{})
		s, _ := newTestService(t, d, Config{SyslogAddr: "siem.example:6514"})
		for _, p := range []any{"text", []int{1}, nil, json.RawMessage(`{"a":`)} {
			err := d.Transact(context.Background(), func(tx *db.Tx) error { return s.Queue(context.Background(), tx, p) })
			if err == nil {
				t.Errorf("Queue(%#v) = nil, want an error", p)
			}
		}
	})
}

// TestValidate: the settings that would send alerts insecurely, or not
// at all, are refused at start-up, and such a channel queues but does not
// send.
func TestValidate(t *testing.T) {
	good := Config{WebhookURL: "https://siem.example/hook", WebhookSecret: testSecret, SyslogAddr: "siem.example:6514"}
	if err := good.Validate(); err != nil {
		t.Fatalf("Validate(good) = %v", err)
	}
	if err := (Config{WebhookURL: "http://127.0.0.1:8080/hook", WebhookSecret: testSecret}).Validate(); err != nil {
		t.Fatalf("http to loopback: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
	}{
		{"refuses plain http to another host", func(c *Config) { c.WebhookURL = "http://siem.example/hook" }},
		{"refuses a relative URL", func(c *Config) { c.WebhookURL = "/hook" }},
		{"refuses credentials in the URL", func(c *Config) { c.WebhookURL = "https://u:p@siem.example/hook" }},
		{"refuses a short secret", func(c *Config) { c.WebhookSecret = testSecret[:31] }},
		{"refuses a syslog address without a port", func(c *Config) { c.SyslogAddr = "siem.example" }},
		{"refuses syslog TLS without verification", func(c *Config) { c.SyslogTLS = &tls.Config{InsecureSkipVerify: true} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.edit(&c)
			if err := c.Validate(); err == nil {
				t.Fatal("Validate = nil, want an error")
			}
			d := dbtest.SQLite(t, dbtest.Options{})
			s, logs := newTestService(t, d, c)
			if len(s.sendable) != 1 {
				t.Fatalf("sendable = %v, want only the valid channel", s.sendable)
			}
			if !strings.Contains(logs.String(), "level=ERROR") {
				t.Fatalf("no error logged by New:\n%s", logs)
			}
		})
	}
}
