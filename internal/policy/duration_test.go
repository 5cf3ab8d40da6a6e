package policy

import (
	"testing"
	"time"
)

func TestDurationText(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		out  string // String of the parsed value
	}{
		{"30m", 30 * time.Minute, "30m"},
		{"12h", 12 * time.Hour, "12h"},
		{"24h", 24 * time.Hour, "24h"},
		{"72h", 72 * time.Hour, "72h"},
		{"720h", 30 * Day, "30d"},
		{"90d", 90 * Day, "90d"},
		{"1d", Day, "24h"},
		{"1h30m", 90 * time.Minute, "90m"},
		{"45s", 45 * time.Second, "45s"},
		{"1.5s", 1500 * time.Millisecond, "1.5s"},
		{"0", 0, "0s"},
		{"0s", 0, "0s"},
		{"-5m", -5 * time.Minute, "-5m"},
	} {
		var d Duration
		if err := d.UnmarshalText([]byte(tc.in)); err != nil {
			t.Errorf("UnmarshalText(%q): %v", tc.in, err)
			continue
		}
		if d.Duration != tc.want {
			t.Errorf("UnmarshalText(%q) = %v, want %v", tc.in, d.Duration, tc.want)
		}
		b, _ := d.MarshalText()
		if string(b) != tc.out {
			t.Errorf("MarshalText(%q) = %q, want %q", tc.in, b, tc.out)
		}
		back, err := ParseDuration(string(b))
		if err != nil || back != d {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", b, back, err, d)
		}
	}
}

func TestDurationRejectsBadText(t *testing.T) {
	for _, in := range []string{"", "d", "1.5d", "5", "abc", "5 m", "9999999999999d", "1h1d"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) succeeded, want an error", in)
		}
	}
}

func TestDurationStringOfMostNegative(t *testing.T) {
	d := Duration{-1 << 63}
	if got, want := d.String(), d.Duration.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestDurationHuman(t *testing.T) {
	for d, want := range map[Duration]string{
		Days(3 * 365):             "3 years",
		Days(365):                 "1 year",
		Days(395):                 "395 days",
		Days(1):                   "1 day",
		{72 * time.Hour}:          "3 days",
		{12 * time.Hour}:          "12 hours",
		{30 * time.Minute}:        "30 minutes",
		{time.Second}:             "1 second",
		{1500 * time.Millisecond}: "1.5s",
		{}:                        "0s",
	} {
		if got := d.Human(); got != want {
			t.Errorf("Human(%v) = %q, want %q", d, got, want)
		}
	}
}
