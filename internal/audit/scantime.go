package audit

import (
	"fmt"
	"time"
)

// scanTime reads the at column without failing on a value that is not a
// time. Portico only ever writes times there, but a row altered by hand can
// hold any text (SQLite does not enforce column types); Verify must report
// such a row as altered, and Export must still write it, rather than stop
// with a scan error.
type scanTime struct {
	t   time.Time
	raw string // the stored text when it is not a time
	ok  bool
}

// timeLayouts are the text forms a stored time can take: the SQLite
// driver's own, and RFC 3339.
var timeLayouts = []string{
	"2006-01-02 15:04:05.999999999-07:00",
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
}

// Scan implements sql.Scanner.
func (s *scanTime) Scan(v any) error {
	*s = scanTime{}
	switch v := v.(type) {
	case time.Time:
		s.t, s.ok = v, true
		return nil
	case string:
		s.parse(v)
	case []byte:
		s.parse(string(v))
	case nil:
		s.raw = "NULL"
	default:
		s.raw = fmt.Sprint(v)
	}
	return nil
}

func (s *scanTime) parse(text string) {
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, text); err == nil {
			s.t, s.ok = t, true
			return
		}
	}
	s.raw = text
}
