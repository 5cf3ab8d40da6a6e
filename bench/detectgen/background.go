package main

import (
	"math"
	"strconv"
	"time"
)

// customer is one account holder of the background traffic.
type customer struct {
	email   uint32 // index into generator.emails
	id      int
	country int
	offset  int64    // UTC offset in milliseconds
	homes   []uint32 // 1-3 home addresses in the home country
	devices []uint16 // 1-3 user agents
	office  int      // index into generator.offices, or -1
	mobile  bool     // address changes within the country from session to session
	manager bool     // password manager: never mistypes
	mfa     bool     // has a second factor (and sometimes mistypes the code)
	rate    float64  // chance of signing in on a given day
	travels bool     // goes abroad during the period
}

// office is a workplace whose staff share one NAT address.
type office struct {
	ip      uint32
	country int
	offset  int64
	size    int // members still to recruit
}

const (
	second = int64(1000)
	minute = 60 * second
	hour   = 60 * minute
	day    = 24 * hour
)

// countryPick is a weighted list of customer countries.
func (g *generator) homeCountry() int {
	total := 0
	for _, c := range countries {
		total += c.weight
	}
	n := g.rng.IntN(total)
	for i, c := range countries {
		if n < c.weight {
			return i
		}
		n -= c.weight
	}
	return 0
}

func (g *generator) newCustomer() *customer {
	id := len(g.customers)
	domain := [...]string{"@example.com", "@example.net", "@example.org"}[id%3]
	c := &customer{
		email:   g.addEmail("user" + strconv.Itoa(id) + domain),
		id:      id,
		country: g.homeCountry(),
		office:  -1,
		mobile:  g.rng.Float64() < 0.15,
		manager: g.rng.Float64() < 0.2,
		mfa:     g.rng.Float64() < 0.35,
		rate:    [...]float64{0.15, 0.35, 0.6, 0.9}[g.rng.IntN(4)],
	}
	offs := countries[c.country].offsets
	c.offset = int64(offs[g.rng.IntN(len(offs))]) * minute
	for range 1 + g.rng.IntN(3) {
		c.homes = append(c.homes, g.ips.ip(c.country))
		c.devices = append(c.devices, uint16(1+g.rng.IntN(browserUAs)))
	}
	if g.rng.Float64() < 0.25 {
		c.office = g.officeFor(c.country)
		c.offset = g.offices[c.office].offset
	}
	g.customers = append(g.customers, c)
	return c
}

// officeFor returns an office in country c with room for one more member,
// opening a new one (50-200 staff) when the last one is full.
func (g *generator) officeFor(c int) int {
	if i, ok := g.openOffice[c]; ok && g.offices[i].size > 0 {
		g.offices[i].size--
		return i
	}
	offs := countries[c].offsets
	g.offices = append(g.offices, office{
		ip:      g.ips.ip(c),
		country: c,
		offset:  int64(offs[g.rng.IntN(len(offs))]) * minute,
		size:    49 + g.rng.IntN(151),
	})
	g.openOffice[c] = len(g.offices) - 1
	return len(g.offices) - 1
}

// mobileIP is an address of one of the country's mobile carriers: carrier
// NAT pools are few and shared by many customers.
func (g *generator) mobileIP(c int) uint32 {
	pool := g.carriers[c]
	return g.ips.host(pool[g.rng.IntN(len(pool))], c)
}

// localHour draws a waking hour, weighted towards the day and evening.
var hourWeights = [24]int{0, 0, 0, 0, 0, 0, 1, 3, 6, 8, 8, 8, 9, 8, 8, 8, 8, 8, 9, 10, 10, 8, 5, 2}

func (g *generator) localMinuteOfDay() int64 {
	total := 0
	for _, w := range hourWeights {
		total += w
	}
	n := g.rng.IntN(total)
	h := 0
	for ; n >= hourWeights[h]; h++ {
		n -= hourWeights[h]
	}
	return int64(h*60 + g.rng.IntN(60))
}

// trip is a traveller's stay abroad. Between leave and arrive, and between
// depart and home, they are in the air and do not sign in.
type trip struct {
	leave, arrive, depart, home int64
	country                     int
	ip                          uint32
}

func (g *generator) planTrip(c *customer) *trip {
	dest := g.rng.IntN(len(countries))
	for countries[dest].weight == 0 || dest == c.country {
		dest = g.rng.IntN(len(countries))
	}
	// Airliners cruise near 900 km/h; add the airports and the taxi.
	flight := int64(distanceKm(c.country, dest)/900*float64(hour)) + 3*hour + g.rng.Int64N(6*hour)
	t := &trip{country: dest, ip: g.ips.ip(dest)}
	t.leave = g.start + g.rng.Int64N(max(g.end-g.start-2*day, day))
	t.arrive = t.leave + flight
	t.depart = t.arrive + day + g.rng.Int64N(4*day)
	t.home = t.depart + flight
	return t
}

// backgroundFor writes one customer's sign-ins over the whole period.
func (g *generator) backgroundFor(c *customer) {
	var tr *trip
	if g.rng.Float64() < 0.04 {
		tr = g.planTrip(c)
		c.travels = true
	}
	days := int((g.end - g.start) / day)
	for d := -1; d <= days; d++ {
		if g.rng.Float64() >= c.rate {
			continue
		}
		sessions := 1
		if c.manager && g.rng.Float64() < 0.5 {
			sessions = 2 + g.rng.IntN(2)
		}
		localMidnight := g.start + int64(d)*day - c.offset
		weekday := time.Unix((localMidnight+c.offset)/1000, 0).UTC().Weekday()
		workday := weekday != time.Saturday && weekday != time.Sunday
		for s := range sessions {
			var at int64
			atOffice := c.office >= 0 && workday && s == 0
			if atOffice {
				// Staff arrive around 8:50, give or take half an hour.
				m := 530 + g.rng.NormFloat64()*25
				at = localMidnight + int64(math.Max(420, math.Min(m, 720))*float64(minute))
			} else {
				at = localMidnight + g.localMinuteOfDay()*minute
			}
			at += g.rng.Int64N(minute)
			if at < g.start || at >= g.end-10*minute {
				continue // a session's retries take up to 10 minutes
			}
			ip := c.homes[g.rng.IntN(len(c.homes))]
			ua := c.devices[g.rng.IntN(len(c.devices))]
			switch {
			case tr != nil && at >= tr.leave && at < tr.arrive, tr != nil && at >= tr.depart && at < tr.home:
				continue // in the air
			case tr != nil && at >= tr.arrive && at < tr.depart:
				ip = tr.ip
				if g.rng.Float64() < 0.3 {
					ip = g.mobileIP(tr.country) // a local SIM
				}
			case atOffice:
				ip = g.offices[c.office].ip
				ua = c.devices[0]
			case c.mobile && g.rng.Float64() < 0.6:
				ip = g.mobileIP(c.country)
			}
			g.session(c, at, ip, ua)
		}
	}
}

// session writes one visit: mostly a plain success, sometimes mistakes.
func (g *generator) session(c *customer, at int64, ip uint32, ua uint16) {
	r := g.rng.Float64()
	step := func(lo, hi int64) { at += lo + g.rng.Int64N(hi-lo) }
	switch {
	case c.manager || r < 0.85:
		g.emit(at, ip, c.email, ua, success, background)
	case r < 0.92: // typos: 1-3 wrong passwords, then right
		for range 1 + g.rng.IntN(3) {
			g.emit(at, ip, c.email, ua, badPassword, background)
			step(4*second, 30*second)
		}
		g.emit(at, ip, c.email, ua, success, background)
	case r < 0.94: // a typo in their own address
		g.emit(at, ip, g.addEmail(typoOf(g.emails[c.email], g.rng.IntN(4))), ua, unknownAccount, background)
		step(5*second, 40*second)
		g.emit(at, ip, c.email, ua, success, background)
	case r < 0.955: // forgot the password: 4-6 tries, then gives up (or resets it)
		for range 4 + g.rng.IntN(3) {
			g.emit(at, ip, c.email, ua, badPassword, background)
			step(8*second, 90*second)
		}
	case r < 0.98 && c.mfa: // mistyped the one-time code
		for range 1 + g.rng.IntN(2) {
			g.emit(at, ip, c.email, ua, badSecondFactor, background)
			step(10*second, 40*second)
		}
		g.emit(at, ip, c.email, ua, success, background)
	default:
		g.emit(at, ip, c.email, ua, success, background)
	}
}

// typoOf misspells the local part of an address (never the domain, so
// every address stays under an example domain). Each typo belongs to one
// customer: a typo shared by customers in two countries would look like
// impossible travel on that address.
func typoOf(email string, kind int) string {
	at := 0
	for at < len(email) && email[at] != '@' {
		at++
	}
	local, domain := email[:at], email[at:]
	switch kind {
	case 0:
		return "usr" + local[4:] + domain // dropped letter
	case 1:
		return "uesr" + local[4:] + domain // swapped letters
	case 2:
		return local + "." + domain // stray dot
	default:
		return local + "x" + domain // fat finger after the last digit
	}
}
