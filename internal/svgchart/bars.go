package svgchart

import (
	"fmt"
	"html/template"
	"math"
	"strings"
	"unicode/utf8"
)

type barsData struct {
	frame
	Grid   []gridLine
	Bars   []rect
	Labels []text
	Legend []legendItem
}

type gridLine struct{ X1, X2, Y, LabelX, LabelY, Label string }

type rect struct{ X, Y, W, H, Fill, Tip string }

type text struct{ X, Y, Text string }

type legendItem struct{ X, Y, TextX, TextY, Fill, Name string }

// Bars draws vertical bars, one per label: sign-ins per hour over a day.
// Values that are negative, NaN or infinite are drawn as 0. With no
// values the chart says "No data".
func Bars(title, desc string, labels []string, values []float64, opts Options) template.HTML {
	return stacked(title, desc, labels, []Series{{Values: values}}, opts, false)
}

// StackedBars draws one bar per label, made of one segment per series
// stacked from the bottom, with a legend: successes against failures per
// hour. Series colours follow opts.Colors, then Palette.
func StackedBars(title, desc string, labels []string, series []Series, opts Options) template.HTML {
	return stacked(title, desc, labels, series, opts, true)
}

func stacked(title, desc string, labels []string, series []Series, o Options, legend bool) template.HTML {
	n := 0
	for _, s := range series {
		n = max(n, len(s.Values))
	}
	label := func(i int) string {
		if i < len(labels) {
			return labels[i]
		}
		return ""
	}
	vals := make([][]float64, len(series))
	totals := make([]float64, n)
	for si, s := range series {
		vals[si] = make([]float64, n)
		for i := range n {
			if i < len(s.Values) {
				vals[si][i] = clean(s.Values[i])
			}
			totals[i] += vals[si][i]
		}
	}

	d := barsData{frame: o.frame(title, desc, summarize(series, vals, totals, label, o), labels, vals)}
	if n == 0 {
		d.Empty = true
		return render("bars.svg.tmpl", d)
	}

	w, h := float64(d.W), float64(d.H)
	top := 8.0
	if legend {
		top = 8 + fontSize + 10
		x := 40.0
		for si, s := range series {
			d.Legend = append(d.Legend, legendItem{
				X: num(x), Y: num(8), TextX: num(x + 14), TextY: num(8 + fontSize - 2),
				Fill: o.color(si), Name: short(s.Name, 20),
			})
			x += 14 + float64(utf8.RuneCountInString(short(s.Name, 20)))*fontSize*0.6 + 16
		}
	}
	maxTotal := 0.0
	for _, t := range totals {
		maxTotal = math.Max(maxTotal, t)
	}
	top, bottom := top, h-fontSize-10
	scale := niceMax(maxTotal)

	// The left margin fits the longest tick label.
	ticks := []float64{0, scale / 2, scale}
	tickW := 0
	for _, t := range ticks {
		tickW = max(tickW, len(value(t)))
	}
	left := float64(tickW)*fontSize*0.6 + 8
	right := w - 4
	plotH := bottom - top
	for _, t := range ticks {
		y := bottom - t/scale*plotH
		d.Grid = append(d.Grid, gridLine{
			X1: num(left), X2: num(right), Y: num(y),
			LabelX: num(left - 4), LabelY: num(y + fontSize*0.35), Label: value(t),
		})
	}

	slot := (right - left) / float64(n)
	barW := math.Max(slot*0.8, 1)
	// Axis labels: as many as fit without overlapping, evenly spaced.
	longest := 1
	for i := range n {
		longest = max(longest, utf8.RuneCountInString(short(label(i), 8)))
	}
	step := int(math.Ceil(float64(longest) * fontSize * 0.6 / (slot - 2)))
	step = max(step, 1)
	for i := range n {
		x := left + float64(i)*slot + (slot-barW)/2
		y := bottom
		for si := range series {
			v := vals[si][i]
			bh := v / scale * plotH
			y -= bh
			if v == 0 {
				continue
			}
			tip := label(i) + ": " + value(v) + unit(o)
			if legend {
				tip = label(i) + ", " + series[si].Name + ": " + value(v) + unit(o)
			}
			d.Bars = append(d.Bars, rect{X: num(x), Y: num(y), W: num(barW), H: num(bh), Fill: o.color(si), Tip: tip})
		}
		if i%step == 0 {
			d.Labels = append(d.Labels, text{X: num(left + (float64(i)+0.5)*slot), Y: num(h - 4), Text: short(label(i), 8)})
		}
	}
	return render("bars.svg.tmpl", d)
}

// summarize says in words what the bars show: per series, the total and
// the highest and lowest bar with their labels.
func summarize(series []Series, vals [][]float64, totals []float64, label func(int) string, o Options) string {
	if len(totals) == 0 {
		return "No data."
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d bars", len(totals))
	if len(series) > 1 {
		var sum float64
		for _, t := range totals {
			sum += t
		}
		fmt.Fprintf(&b, ", %s%s in all", value(sum), unit(o))
	}
	b.WriteString(".")
	for si, s := range series {
		hi, lo, sum := 0, 0, 0.0
		for i, v := range vals[si] {
			sum += v
			if v > vals[si][hi] {
				hi = i
			}
			if v < vals[si][lo] {
				lo = i
			}
		}
		b.WriteString(" ")
		if len(series) > 1 {
			fmt.Fprintf(&b, "%s: ", s.Name)
		}
		fmt.Fprintf(&b, "%s %s%s, highest %s at %s, lowest %s at %s.", totalWord(len(series)),
			value(sum), unit(o), value(vals[si][hi]), label(hi), value(vals[si][lo]), label(lo))
	}
	return b.String()
}

func totalWord(series int) string {
	if series > 1 {
		return "total"
	}
	return "Total"
}
