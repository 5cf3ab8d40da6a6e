// Package svgchart draws small server-rendered SVG charts for the security
// dashboard: bars (sign-ins per hour), stacked bars (successes against
// failures per hour) and a donut for one ratio (MFA coverage).
//
// The page's Content-Security-Policy allows no script from elsewhere and
// no inline style without a nonce, so the charts use SVG presentation
// attributes (fill, stroke, font-size), never a style attribute or a
// <style> element, and need no script. Text is drawn in currentColor, so
// a chart takes the colour of the text around it; data are drawn in a
// small fixed palette with at least 4.5:1 contrast on white.
//
// Every chart is role="img" with a <title> and a <desc>; the desc ends
// with a text summary of the data (totals, highest and lowest), so a
// screen reader gets the point of the chart. Charts scale to the width
// of their container (viewBox, width 100%) and stay readable at 390 px.
//
// All text goes through html/template: labels and titles are escaped,
// never concatenated into markup.
package svgchart

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// Palette is the default series colours: blue, red, green, purple. Each
// has at least 4.5:1 contrast against white.
var Palette = []string{"#0b5cad", "#b42318", "#1a7f37", "#6e40c9"}

// Options adjust a chart. Zero values take the defaults.
type Options struct {
	// ID prefixes the ids of the chart's title and desc, which
	// aria-labelledby points at; it must be unique on the page. Empty
	// derives one from the chart's content.
	ID string
	// Width and Height are the viewBox size (default 420 × 220): the
	// units text sizes are in. A chart 390 px wide draws 12-unit text
	// at about 11 px.
	Width, Height int
	// Unit names what the values count, for the summary ("sign-ins").
	Unit string
	// Colors replace the palette, in series order. Only #rgb, #rrggbb
	// and currentColor are used; anything else falls back to Palette.
	Colors []string
}

// Series is one stacked series of StackedBars.
type Series struct {
	Name   string
	Values []float64
}

const fontSize = 12

//go:embed templates/*.svg.tmpl
var templateFS embed.FS

// templates are parsed on the first chart drawn, not at start (idle memory).
var templates = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("").ParseFS(templateFS, "templates/*.svg.tmpl"))
})

var (
	colorRE = regexp.MustCompile(`^(#[0-9a-fA-F]{3}|#[0-9a-fA-F]{6}|currentColor)$`)
)

// frame is what every chart template gets.
type frame struct {
	ID          string
	Title, Desc string
	W, H        int
	FontSize    int
	Empty       bool
	EmptyX      string
	EmptyY      string
}

func (o Options) frame(title, desc, summary string, content ...any) frame {
	w, h := o.Width, o.Height
	if w <= 0 {
		w = 420
	}
	if h <= 0 {
		h = 220
	}
	id := o.ID
	if !validID(id) {
		sum := sha256.Sum256(fmt.Appendf(nil, "%q %q %v", title, desc, content))
		id = "chart-" + hex.EncodeToString(sum[:5])
	}
	d := strings.TrimSpace(desc)
	if d != "" && !strings.HasSuffix(d, ".") {
		d += "."
	}
	return frame{
		ID: id, Title: title, Desc: strings.TrimSpace(d + " " + summary),
		W: w, H: h, FontSize: fontSize,
		EmptyX: num(float64(w) / 2), EmptyY: num(float64(h) / 2),
	}
}

func (o Options) color(i int) string {
	if i < len(o.Colors) && colorRE.MatchString(o.Colors[i]) {
		return o.Colors[i]
	}
	return Palette[i%len(Palette)]
}

func render(name string, data any) template.HTML {
	var b bytes.Buffer
	if err := templates().ExecuteTemplate(&b, name, data); err != nil {
		// The templates are fixed and the data are plain strings: an
		// error here is a bug in this package.
		panic("svgchart: " + err.Error())
	}
	return template.HTML(b.String())
}

// num formats a coordinate: at most two decimals, no trailing zeros.
func num(x float64) string {
	s := strconv.FormatFloat(x, 'f', 2, 64)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// value formats a data value for people: whole numbers as such,
// others with one decimal.
func value(x float64) string {
	if x == math.Trunc(x) && math.Abs(x) < 1e15 {
		return strconv.FormatFloat(x, 'f', 0, 64)
	}
	return strconv.FormatFloat(x, 'f', 1, 64)
}

// clean makes a value drawable: negative, NaN and infinite values count
// as 0 (these charts show counts).
func clean(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
		return 0
	}
	return x
}

// niceMax rounds m up to 1, 2, 2.5 or 5 times a power of ten, so that the
// axis and its half-way line carry round numbers.
func niceMax(m float64) float64 {
	if m <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(m)))
	for _, f := range []float64{1, 2, 2.5, 5, 10} {
		if m <= f*p*(1+1e-9) {
			return f * p
		}
	}
	return 10 * p
}

// short cuts a label to n characters for the axis; the full label is in
// the bar's tooltip and in the summary.
func short(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func unit(o Options) string {
	if o.Unit == "" {
		return ""
	}
	return " " + o.Unit
}

// validID reports whether id is a letter then up to 63 letters, digits,
// '_' or '-' (a regular expression with {0,63} costs 60 kB at start).
func validID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i, c := range []byte(id) {
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (i == 0 || !(c >= '0' && c <= '9' || c == '_' || c == '-')) {
			return false
		}
	}
	return true
}
