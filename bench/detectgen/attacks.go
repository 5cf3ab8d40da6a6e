package main

import (
	"fmt"
	"slices"
	"strconv"
	"time"
)

// attackSize draws how many lines an attack of rule r writes. Sizes are
// drawn before the background so the background can fill the rest.
func (g *generator) attackSize(r rule) int {
	switch r {
	case bruteForce:
		return 30 + g.rng.IntN(121)
	case credentialStuffing:
		return 150 + g.rng.IntN(351)
	case passwordSpraying:
		return 150 + g.rng.IntN(301)
	case distributedAttack:
		return 40 + g.rng.IntN(111)
	case impossibleTravel:
		return 2
	case mfaGuessing:
		return 15 + g.rng.IntN(46)
	}
	panic("unknown rule")
}

// attack collects one attack's lines and its truth record.
type attack struct {
	g      *generator
	rule   rule
	emails []uint32
	ips    []uint32
	first  int64
	last   int64
}

func (g *generator) newAttack(r rule) *attack { return &attack{g: g, rule: r, first: -1} }

func (a *attack) emit(at int64, ip, email uint32, ua uint16, k outcome) {
	a.g.emit(at, ip, email, ua, k, a.rule)
	if a.first < 0 || at < a.first {
		a.first = at
	}
	a.last = max(a.last, at)
	if !slices.Contains(a.ips, ip) {
		a.ips = append(a.ips, ip)
	}
	if !slices.Contains(a.emails, email) {
		a.emails = append(a.emails, email)
	}
}

func (a *attack) record() truthRecord {
	t := truthRecord{
		Rule:  ruleNames[a.rule],
		Start: time.UnixMilli(a.first).UTC().Truncate(time.Second),
		End:   time.UnixMilli(a.last).UTC().Truncate(time.Second),
	}
	for _, e := range a.emails {
		t.Emails = append(t.Emails, a.g.emails[e])
	}
	for _, ip := range a.ips {
		t.IPs = append(t.IPs, ipString(ip))
	}
	return t
}

// startFor picks when an attack lasting d begins, inside the period.
func (g *generator) startFor(d int64) int64 {
	span := g.end - g.start - d - 2*hour
	if span <= 0 {
		return g.start
	}
	return g.start + hour + g.rng.Int64N(span)
}

func (g *generator) victim() *customer { return g.customers[g.rng.IntN(len(g.customers))] }

func (g *generator) anyCountry() int { return g.rng.IntN(len(countries)) }

func (g *generator) toolUA() uint16 {
	if g.rng.IntN(3) == 0 {
		return 0 // many tools send none
	}
	return uint16(firstTool + g.rng.IntN(len(userAgents)-firstTool))
}

// attack writes one attack of rule r with n lines and returns its record.
func (g *generator) attack(r rule, n int) (truthRecord, error) {
	a := g.newAttack(r)
	switch r {
	case bruteForce:
		// One account, one network (1-3 addresses), a guess every 1-8 s;
		// some accounts lock and the attacker keeps going.
		v := g.victim()
		c := g.anyCountry()
		nw := g.ips.network(c)
		ips := make([]uint32, 1+g.rng.IntN(3))
		for i := range ips {
			ips[i] = g.ips.host(nw, c)
		}
		lockAt := n + 1
		if g.rng.IntN(3) == 0 {
			lockAt = 10 + g.rng.IntN(11)
		}
		ua := g.toolUA()
		at := g.startFor(int64(n) * 8 * second)
		for i := range n {
			k := badPassword
			if i >= lockAt {
				k = locked
			}
			a.emit(at, ips[g.rng.IntN(len(ips))], v.email, ua, k)
			at += second + g.rng.Int64N(7*second)
		}
	case credentialStuffing:
		// A leaked list replayed from one address or one /24: most
		// addresses are unknown here, the rest mostly have another password.
		c := g.anyCountry()
		nw := g.ips.network(c)
		ips := []uint32{g.ips.host(nw, c)}
		if g.rng.IntN(5) < 2 {
			for range 1 + g.rng.IntN(7) {
				ips = append(ips, g.ips.host(nw, c))
			}
		}
		ua := g.toolUA()
		if g.rng.IntN(2) == 0 {
			ua = uint16(1 + g.rng.IntN(browserUAs)) // spoofed browser
		}
		at := g.startFor(int64(n) * 3 * second)
		list := g.rng.IntN(1_000_000)
		for i := range n {
			email, k := g.victim().email, badPassword
			switch r := g.rng.Float64(); {
			case r < 0.6:
				email = g.addEmail(leakedEmail(list, i))
				k = unknownAccount
			case r < 0.62:
				k = success // the stuffing worked for this one
			}
			a.emit(at, ips[g.rng.IntN(len(ips))], email, ua, k)
			at += 200 + g.rng.Int64N(2300)
		}
	case passwordSpraying:
		// One or two guesses per account, from 1-3 networks, slowly: a
		// guess every 1-3 minutes, so the attack lasts 2.5 to 22 hours.
		var ips []uint32
		for range 1 + g.rng.IntN(3) {
			c := g.anyCountry()
			nw := g.ips.network(c)
			for range 1 + g.rng.IntN(4) {
				ips = append(ips, g.ips.host(nw, c))
			}
		}
		accounts := (n*10 + 13) / 14 // about 40% get a second guess
		targets := make([]uint32, accounts)
		unknown := make([]bool, accounts)
		for i := range targets {
			targets[i] = g.victim().email
			if g.rng.IntN(10) == 0 {
				targets[i] = g.addEmail(leakedEmail(g.rng.IntN(1_000_000), i))
				unknown[i] = true
			}
		}
		gap := minute + g.rng.Int64N(2*minute) // 20-60 accounts an hour
		duration := gap * int64(n)
		at := g.startFor(duration * 3 / 2)
		ua := g.toolUA()
		for i := range n {
			email := targets[i%accounts]
			k := badPassword
			if unknown[i%accounts] {
				k = unknownAccount
			} else if g.rng.IntN(200) == 0 {
				k = success
			}
			a.emit(at, ips[g.rng.IntN(len(ips))], email, ua, k)
			at += gap/2 + g.rng.Int64N(gap)
		}
	case distributedAttack:
		// One account, failures from many networks across the world
		// (a botnet), 1-3 tries per address, over 20 minutes to 3 hours.
		v := g.victim()
		duration := 20*minute + g.rng.Int64N(160*minute)
		gap := duration / int64(n)
		at := g.startFor(duration * 3 / 2)
		var ip uint32
		for i := range n {
			if i == 0 || g.rng.IntN(3) != 0 {
				ip = g.ips.ip(g.anyCountry())
			}
			a.emit(at, ip, v.email, uint16(1+g.rng.IntN(browserUAs)), badPassword)
			at += gap/2 + g.rng.Int64N(gap)
		}
	case impossibleTravel:
		// The customer signs in at home; within 5-90 minutes someone signs
		// in as them from a country at least 7,000 km away.
		v := g.victim()
		for v.travels {
			v = g.victim()
		}
		far := g.anyCountry()
		for distanceKm(v.country, far) < 7000 {
			far = g.anyCountry()
		}
		home, away := v.homes[0], g.ips.ip(far)
		hs, as := ipString(home), ipString(away)
		if hc, ac := countryOf(hs), countryOf(as); hc != countries[v.country].code || ac != countries[far].code {
			return truthRecord{}, fmt.Errorf("impossible travel: %s is %q and %s is %q, want %s and %s",
				hs, hc, as, ac, countries[v.country].code, countries[far].code)
		}
		at := g.startFor(2 * hour)
		away2 := at + 5*minute + g.rng.Int64N(85*minute)
		a.emit(at, home, v.email, v.devices[0], success)
		a.emit(away2, away, v.email, uint16(1+g.rng.IntN(browserUAs)), success)
		// The customer's own sign-ins from home soon after the foreign one
		// would be a second impossible journey (back), alerting after the
		// attack's window: the customer stays away until a flight home
		// could have landed.
		flight := int64(distanceKm(v.country, far) / 900 * float64(hour))
		g.quiet = append(g.quiet, quiet{email: v.email, from: at, to: away2 + flight + 3*hour})
	case mfaGuessing:
		// The password is known (every bad_second_factor says it was
		// right); the attacker guesses one-time codes every 5-40 s.
		v := g.victim()
		ip := g.ips.ip(g.anyCountry())
		ua := uint16(1 + g.rng.IntN(browserUAs))
		at := g.startFor(int64(n) * 40 * second)
		for range n {
			a.emit(at, ip, v.email, ua, badSecondFactor)
			at += 5*second + g.rng.Int64N(35*second)
		}
	}
	return a.record(), nil
}

var firstNames = [...]string{"anna", "ben", "chloe", "david", "emma", "felix", "grace", "hugo", "isla", "jack", "kim", "leo", "mia", "noah", "olga", "paul"}
var lastNames = [...]string{"smith", "jones", "muller", "martin", "garcia", "rossi", "tanaka", "silva", "kumar", "brown", "dubois", "novak"}

// leakedEmail is the i-th address of leaked list `list`: someone else's
// customers, so unknown here.
func leakedEmail(list, i int) string {
	n := list*7919 + i
	domain := [...]string{"@example.com", "@example.net", "@example.org"}[n%3]
	return firstNames[n%len(firstNames)] + "." + lastNames[(n/len(firstNames))%len(lastNames)] + strconv.Itoa(n%9973) + domain
}
