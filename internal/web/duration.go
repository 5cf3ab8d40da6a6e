package web

import (
	"strconv"
	"strings"
	"time"

	"github.com/portico/portico/internal/policy"
)

// humanDuration writes a duration for people, as the pages show it:
// "15 minutes", "12 hours", "90 days", "1 hour 30 minutes". Days are
// used from a week up, so that the deadlines that laws state in hours
// ("72 hours") read as the laws put them; every unit that is not zero is
// written, so nothing is rounded away. A fraction of a second, which no
// page has a use for, is rounded to the nearest second.
//
// It takes a time.Duration or a policy.Duration (the "duration" template
// function): Go's own form ("15m0s") is for logs and files, not pages.
func humanDuration(v any) string {
	var d time.Duration
	switch x := v.(type) {
	case time.Duration:
		d = x
	case policy.Duration:
		d = x.Duration
	default:
		return ""
	}
	if d < 0 {
		return "minus " + humanDuration(-d)
	}
	if d < time.Second {
		if d == 0 {
			return "0 seconds"
		}
		return d.String()
	}
	d = d.Round(time.Second)
	var parts []string
	add := func(n int64, unit string) {
		switch {
		case n == 1:
			parts = append(parts, "1 "+unit)
		case n > 1:
			parts = append(parts, strconv.FormatInt(n, 10)+" "+unit+"s")
		}
	}
	if d >= 7*policy.Day {
		add(int64(d/policy.Day), "day")
		d %= policy.Day
	}
	add(int64(d/time.Hour), "hour")
	add(int64(d%time.Hour/time.Minute), "minute")
	add(int64(d%time.Minute/time.Second), "second")
	return strings.Join(parts, " ")
}
