package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"

	"github.com/phuslu/iploc"
)

// country is a place customers live in or attackers come from. The city
// coordinates give flight distances; the offsets give local daytime.
type country struct {
	code     string
	weight   int   // share of customers; 0 for attacker-only countries
	offsets  []int // UTC offsets in minutes (November, so most are standard time)
	lat, lon float64
}

var countries = []country{
	{"US", 30, []int{-300, -360, -420, -480}, 40.7, -74.0},
	{"CA", 6, []int{-300, -480}, 43.7, -79.4},
	{"GB", 12, []int{0}, 51.5, -0.1},
	{"DE", 9, []int{60}, 52.5, 13.4},
	{"FR", 8, []int{60}, 48.9, 2.35},
	{"NL", 5, []int{60}, 52.4, 4.9},
	{"ES", 5, []int{60}, 40.4, -3.7},
	{"JP", 7, []int{540}, 35.7, 139.7},
	{"AU", 6, []int{660}, -33.9, 151.2},
	{"BR", 6, []int{-180}, -23.5, -46.6},
	{"IN", 6, []int{330}, 19.1, 72.9},
	{"RU", 0, []int{180}, 55.8, 37.6},
	{"CN", 0, []int{480}, 31.2, 121.5},
	{"VN", 0, []int{420}, 10.8, 106.7},
	{"ID", 0, []int{420}, -6.2, 106.8},
}

// distanceKm is the great-circle distance between two countries' cities.
func distanceKm(a, b int) float64 {
	const r = 6371
	rad := math.Pi / 180
	la1, la2 := countries[a].lat*rad, countries[b].lat*rad
	dla := la2 - la1
	dlo := (countries[b].lon - countries[a].lon) * rad
	h := math.Sin(dla/2)*math.Sin(dla/2) + math.Cos(la1)*math.Cos(la2)*math.Sin(dlo/2)*math.Sin(dlo/2)
	return 2 * r * math.Asin(math.Sqrt(h))
}

// ipSpace holds, per country, /24 networks whose addresses iploc maps to
// that country, found by sampling the address space with the seeded
// generator (so the same seed finds the same networks).
type ipSpace struct {
	rng  *rand.Rand
	nets [][]uint32 // by country index: network base addresses
}

func newIPSpace(rng *rand.Rand, perCountry int) (*ipSpace, error) {
	s := &ipSpace{rng: rng, nets: make([][]uint32, len(countries))}
	index := make(map[string]int, len(countries))
	for i, c := range countries {
		index[c.code] = i
	}
	missing := len(countries)
	for tries := 0; missing > 0; tries++ {
		if tries > 200_000_000 {
			return nil, fmt.Errorf("ipspace: found too few networks after %d samples", tries)
		}
		base := rng.Uint32() &^ 0xff
		if reserved(base) {
			continue
		}
		i, ok := index[iploc.IPCountry(addr(base|1))]
		if !ok || len(s.nets[i]) >= perCountry {
			continue
		}
		if iploc.IPCountry(addr(base|254)) != countries[i].code {
			continue
		}
		s.nets[i] = append(s.nets[i], base)
		if len(s.nets[i]) == perCountry {
			missing--
		}
	}
	return s, nil
}

// network returns a random network of country c.
func (s *ipSpace) network(c int) uint32 {
	n := s.nets[c]
	return n[s.rng.IntN(len(n))]
}

// host returns an address in network base that iploc maps to country c.
// Both ends of the network were checked; a range boundary inside the /24
// is rare, and then the verified .1 is used.
func (s *ipSpace) host(base uint32, c int) uint32 {
	for range 4 {
		ip := base | uint32(1+s.rng.IntN(254))
		if iploc.IPCountry(addr(ip)) == countries[c].code {
			return ip
		}
	}
	return base | 1
}

// ip returns a random address of country c.
func (s *ipSpace) ip(c int) uint32 { return s.host(s.network(c), c) }

func addr(ip uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(ip >> 24), byte(ip >> 16), byte(ip >> 8), byte(ip)})
}

// reserved reports special-purpose ranges that never appear as a customer's
// public address.
func reserved(ip uint32) bool {
	a, b := ip>>24, (ip>>16)&0xff
	switch {
	case a == 0 || a == 10 || a == 127 || a >= 224:
		return true
	case a == 100 && b >= 64 && b < 128:
		return true
	case a == 169 && b == 254, a == 172 && b >= 16 && b < 32, a == 192 && b == 168:
		return true
	case a == 192 && b == 0, a == 198 && (b == 18 || b == 19 || b == 51), a == 203 && b == 0:
		return true
	}
	return false
}

func appendIP(dst []byte, ip uint32) []byte {
	dst = strconv.AppendUint(dst, uint64(ip>>24), 10)
	dst = append(dst, '.')
	dst = strconv.AppendUint(dst, uint64((ip>>16)&0xff), 10)
	dst = append(dst, '.')
	dst = strconv.AppendUint(dst, uint64((ip>>8)&0xff), 10)
	dst = append(dst, '.')
	return strconv.AppendUint(dst, uint64(ip&0xff), 10)
}

func ipString(ip uint32) string { return string(appendIP(nil, ip)) }

// countryOf is the check the detector itself makes: iploc on the printed
// address.
func countryOf(ip string) string { return iploc.Country(net.ParseIP(ip)) }
