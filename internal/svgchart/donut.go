package svgchart

import (
	"fmt"
	"html/template"
	"math"
	"strings"
)

type donutData struct {
	frame
	CX, CY, R, Stroke string
	Arc, Gap          string // stroke-dasharray of the filled arc
	Rotate            string
	Full              bool
	Percent           string
	PercentY          string
	BigFont           int
	Fill              string
	Caption, CaptionY string
}

// Donut draws one ratio, part of whole, as a ring filled that far with
// the percentage in the middle: MFA coverage, 870 of 1000 accounts. The
// caption goes under the percentage ("of accounts use MFA"). A whole
// that is not above 0 draws "No data".
func Donut(title, desc, caption string, part, whole float64, opts Options) template.HTML {
	part, whole = clean(part), clean(whole)
	if opts.Height <= 0 {
		opts.Height = 220
	}
	if opts.Width <= 0 {
		opts.Width = opts.Height
	}
	ratio := 0.0
	summary := "No data."
	if whole > 0 {
		ratio = math.Min(part/whole, 1)
		summary = fmt.Sprintf("%s (%s of %s%s).", strings.TrimSpace(percent(ratio)+" "+caption), value(part), value(whole), unit(opts))
	}
	d := donutData{frame: opts.frame(title, desc, summary, caption, part, whole)}
	if whole <= 0 {
		d.Empty = true
		return render("donut.svg.tmpl", d)
	}
	w, h := float64(d.W), float64(d.H)
	stroke := math.Min(w, h) * 0.12
	r := math.Min(w, h)/2 - stroke/2 - 2
	circ := 2 * math.Pi * r
	d.CX, d.CY, d.R, d.Stroke = num(w/2), num(h/2), num(r), num(stroke)
	d.Arc, d.Gap = num(ratio*circ), num(circ)
	d.Rotate = fmt.Sprintf("rotate(-90 %s %s)", num(w/2), num(h/2))
	d.Full = ratio > 0
	d.BigFont = int(math.Max(fontSize, math.Round(r*0.45)))
	d.Percent = percent(ratio)
	d.Fill = opts.color(0)
	if caption != "" {
		d.PercentY = num(h/2 + float64(d.BigFont)*0.1)
		d.Caption = short(caption, 24)
		d.CaptionY = num(h/2 + float64(d.BigFont)*0.1 + fontSize + 4)
	} else {
		d.PercentY = num(h/2 + float64(d.BigFont)*0.35)
	}
	return render("donut.svg.tmpl", d)
}

// percent rounds down so that 99.6% does not show as a complete 100%.
func percent(r float64) string {
	p := math.Floor(r*1000) / 10
	if p == math.Trunc(p) {
		return fmt.Sprintf("%.0f%%", p)
	}
	return fmt.Sprintf("%.1f%%", p)
}
