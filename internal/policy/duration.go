package policy

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Day and Year are the calendar-free units in which the profile counts
// retention periods and review intervals: a Year is 365 days.
const (
	Day  = 24 * time.Hour
	Year = 365 * Day
)

// Duration is a time.Duration that reads and writes itself as text in the
// policy file: "30m", "12h", "90d". It accepts everything time.ParseDuration
// accepts, plus a whole number of days ("395d"), because retention periods
// and review intervals read badly in hours.
//
// It embeds time.Duration, so d.Duration is the standard value and its
// methods (Hours, Minutes, ...) work on d directly.
type Duration struct {
	time.Duration
}

// Days returns a Duration of n days.
func Days(n int) Duration { return Duration{time.Duration(n) * Day} }

// MarshalText writes the duration as String does.
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(d.String()), nil
}

// UnmarshalText reads "Nd" (whole days) or any time.ParseDuration text.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// ParseDuration reads the text form of a Duration.
func ParseDuration(s string) (Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.ParseInt(n, 10, 64)
		if err != nil || days > maxDays || days < -maxDays {
			return Duration{}, fmt.Errorf("invalid duration %q: days must be a whole number, e.g. \"90d\"", s)
		}
		return Days(int(days)), nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return Duration{}, fmt.Errorf("invalid duration %q: use a number and a unit (s, m, h, d), e.g. \"30m\", \"12h\", \"90d\"", s)
	}
	return Duration{v}, nil
}

// maxDays keeps n*Day inside an int64.
const maxDays = int64(1<<63-1) / int64(Day)

// String writes the duration in one unit, the largest that is exact: days
// from a week up ("395d"), hours below that ("24h", "72h", so that the
// incident deadlines read as CP-7.1 and GDPR Art. 33 state them), then
// minutes and seconds. Sub-second values fall back to time.Duration's form.
func (d Duration) String() string {
	v := d.Duration
	switch {
	case v == 0:
		return "0s"
	case v < 0 && -v > 0: // -v overflows only for the most negative value
		return "-" + Duration{-v}.String()
	case v >= 7*Day && v%Day == 0:
		return strconv.FormatInt(int64(v/Day), 10) + "d"
	case v%time.Hour == 0:
		return strconv.FormatInt(int64(v/time.Hour), 10) + "h"
	case v%time.Minute == 0:
		return strconv.FormatInt(int64(v/time.Minute), 10) + "m"
	case v%time.Second == 0:
		return strconv.FormatInt(int64(v/time.Second), 10) + "s"
	}
	return v.String()
}

// Human writes the duration for people, in the largest whole unit: "3
// years", "395 days", "24 hours", "30 minutes". Pages that tell customers
// the policy (privacy notice, security tips) use it.
func (d Duration) Human() string {
	v := d.Duration
	if v <= 0 {
		return d.String()
	}
	for _, u := range []struct {
		size time.Duration
		name string
	}{
		{Year, "year"}, {Day, "day"}, {time.Hour, "hour"}, {time.Minute, "minute"}, {time.Second, "second"},
	} {
		if v%u.size == 0 {
			n := int64(v / u.size)
			if n == 1 {
				return "1 " + u.name
			}
			return strconv.FormatInt(n, 10) + " " + u.name + "s"
		}
	}
	return d.String()
}
