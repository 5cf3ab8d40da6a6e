package db

import (
	"strings"
	"testing"
)

// TestRedactURL: no secret of a connection URL reaches a log line or an
// error message (the password, and query keys such as password and
// sslpassword that pgx also reads).
func TestRedactURL(t *testing.T) {
	for _, u := range []string{
		"postgres://portico:s3cretpw@db.internal:5432/portico?sslmode=verify-full",
		"postgres://portico@db.internal/portico?password=s3cretpw",
		"postgresql://db.internal/portico?sslpassword=s3cretpw&sslkey=/k.pem",
	} {
		got := redactURL(u)
		if strings.Contains(got, "s3cretpw") {
			t.Errorf("redactURL(%q) = %q: holds the secret", u, got)
		}
		if !strings.Contains(got, "db.internal") || !strings.HasSuffix(got, "/portico") {
			t.Errorf("redactURL(%q) = %q: does not say which database", u, got)
		}
	}
}
