package session

import (
	"net/netip"
	"strconv"

	"github.com/mileusna/useragent"
	"github.com/phuslu/iploc"
)

// Browsers and systems that Device names. A name the parser finds that is
// not listed here is not shown: a user agent is free text, and the parser's
// "browser name" is then whatever token came first, which can be anything
// the client sent (an email address, an ID). Device's result is stored in
// clear, so it holds only these fixed words and a version number.
var (
	knownBrowsers = map[string]bool{
		useragent.Firefox: true, useragent.Chrome: true, useragent.Safari: true, useragent.Edge: true,
		useragent.Opera: true, useragent.OperaMini: true, useragent.OperaTouch: true,
		useragent.Vivaldi: true, useragent.SamsungBrowser: true, useragent.InternetExplorer: true,
		useragent.HeadlessChrome: true, useragent.MobileSafari: true,
		useragent.FacebookApp: true, useragent.InstagramApp: true, useragent.TiktokApp: true,
	}
	knownSystems = map[string]bool{
		useragent.Windows: true, useragent.MacOS: true, useragent.Linux: true, useragent.Android: true,
		useragent.IOS: true, useragent.ChromeOS: true, useragent.FreeBSD: true,
		useragent.WindowsPhone: true, useragent.BlackBerry: true, useragent.Harmony: true,
	}
	// Apple's models are few and say more than "iOS"; Android models
	// are thousands of codes ("SM-S908B") and stay "Android".
	knownModels = map[string]bool{"iPhone": true, "iPad": true, "iPod": true}
)

// Device describes the client of a user agent coarsely, for people: the
// browser and the system, as in "Firefox 140 on Linux", "Safari on iPhone"
// or "Chrome on Android". Desktops show the browser's major version, which
// tells two computers apart; on phones and tablets the model is shown
// instead. An agent it cannot place is "Unknown device", and a crawler is
// "Bot".
func Device(userAgent string) string {
	ua := useragent.Parse(userAgent)
	if ua.Bot {
		return "Bot"
	}
	browser := ""
	if knownBrowsers[ua.Name] {
		browser = ua.Name
	}
	platform, mobile := "", false
	switch {
	case knownModels[ua.Device]:
		platform, mobile = ua.Device, true
	case ua.OS == useragent.Android && ua.Tablet:
		platform, mobile = "Android tablet", true
	case knownSystems[ua.OS]:
		platform, mobile = ua.OS, ua.Mobile || ua.Tablet
	}
	if browser != "" && !mobile && ua.VersionNo.Major > 0 {
		browser += " " + strconv.Itoa(ua.VersionNo.Major)
	}
	switch {
	case browser == "" && platform == "":
		return "Unknown device"
	case platform == "":
		return browser
	case browser == "":
		return "Unknown browser on " + platform
	}
	return browser + " on " + platform
}

// Country returns the ISO 3166-1 alpha-2 code of the country an IP address
// is registered in ("US"), from the database embedded in the binary: no
// lookup leaves the server. It returns "" for loopback, private, link-local,
// shared (CGNAT), documentation and other non-public addresses, for
// addresses the database does not place, and for text that is not an
// address. An address with a port ("203.0.113.7:443", "[2001:db8::1]:443")
// is accepted.
func Country(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		ap, err := netip.ParseAddrPort(ip)
		if err != nil {
			return ""
		}
		a = ap.Addr()
	}
	a = a.Unmap().WithZone("")
	if !a.IsGlobalUnicast() || a.IsPrivate() || nonPublic(a) {
		return ""
	}
	c := iploc.IPCountry(a)
	if len(c) != 2 || c == "ZZ" || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' {
		return ""
	}
	return c
}

// nonPublicPrefixes are special-purpose ranges (RFC 6890 and successors)
// that IsGlobalUnicast and IsPrivate let through.
var nonPublicPrefixes = []netip.Prefix{
	netip.MustParsePrefix("100.64.0.0/10"),   // shared address space (CGNAT)
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64: the IPv4 inside is not checked here
}

func nonPublic(a netip.Addr) bool {
	for _, p := range nonPublicPrefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
