package svgchart_test

import (
	"encoding/xml"
	"flag"
	"fmt"
	"html/template"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/portico/portico/internal/svgchart"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// node is a parsed XML element.
type node struct {
	Name     string
	Attr     map[string]string
	Text     string // character data directly inside
	Children []*node
}

// parse checks that out is well-formed XML and returns its root.
func parse(t *testing.T, out template.HTML) *node {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(string(out)))
	dec.Strict = true
	var stack []*node
	var root *node
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not XML: %v\n%s", err, out)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			n := &node{Name: tok.Name.Local, Attr: map[string]string{}}
			for _, a := range tok.Attr {
				n.Attr[a.Name.Local] = a.Value
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.Children = append(p.Children, n)
			} else if root == nil {
				root = n
			} else {
				t.Fatal("more than one root element")
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].Text += string(tok)
			}
		}
	}
	if root == nil {
		t.Fatal("no element")
	}
	return root
}

func (n *node) all(name string) []*node {
	var out []*node
	var walk func(*node)
	walk = func(m *node) {
		if m.Name == name {
			out = append(out, m)
		}
		for _, c := range m.Children {
			walk(c)
		}
	}
	walk(n)
	return out
}

func (n *node) texts() []string {
	var out []string
	for _, t := range n.all("text") {
		out = append(out, t.Text)
	}
	return out
}

func f(t *testing.T, s string) float64 {
	t.Helper()
	x, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return x
}

// bars returns the data rects (those with a tooltip).
func bars(root *node) []*node {
	var out []*node
	for _, r := range root.all("rect") {
		if len(r.Children) == 1 && r.Children[0].Name == "title" {
			out = append(out, r)
		}
	}
	return out
}

var hours = func() []string {
	var h []string
	for i := range 24 {
		h = append(h, fmt.Sprintf("%02d:00", i))
	}
	return h
}()

// checkFrame checks what every chart must have: role="img", a title and
// a desc that aria-labelledby names, scaling to its container, and
// nothing a strict CSP would block.
func checkFrame(t *testing.T, out template.HTML) *node {
	t.Helper()
	root := parse(t, out)
	if root.Name != "svg" || root.Attr["role"] != "img" || root.Attr["width"] != "100%" || root.Attr["viewBox"] == "" {
		t.Fatalf("root %s %v", root.Name, root.Attr)
	}
	if len(root.Children) < 2 || root.Children[0].Name != "title" || root.Children[1].Name != "desc" {
		t.Fatal("title and desc must come first")
	}
	title, desc := root.Children[0], root.Children[1]
	if want := title.Attr["id"] + " " + desc.Attr["id"]; root.Attr["aria-labelledby"] != want || title.Attr["id"] == "" {
		t.Fatalf("aria-labelledby %q, want %q", root.Attr["aria-labelledby"], want)
	}
	if strings.TrimSpace(desc.Text) == "" {
		t.Fatal("empty desc")
	}
	for _, name := range []string{"script", "style", "foreignObject"} {
		if len(root.all(name)) > 0 {
			t.Fatalf("has a <%s>", name)
		}
	}
	var walk func(*node)
	walk = func(n *node) {
		for a := range n.Attr {
			if a == "style" || strings.HasPrefix(a, "on") || a == "href" {
				t.Fatalf("<%s> has attribute %s", n.Name, a)
			}
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(root)
	return root
}

func TestBars(t *testing.T) {
	t.Run("escapes every label, title and description", func(t *testing.T) {
		out := svgchart.Bars(`Sign-ins <b>"&`, `Per hour "&<script>`, []string{"<script>", `"&`, "x"}, []float64{1, 2, 3}, svgchart.Options{})
		root := checkFrame(t, out)
		if strings.Contains(string(out), "<script") || strings.Contains(string(out), "<b>") {
			t.Fatalf("unescaped markup in\n%s", out)
		}
		if got := root.Children[0].Text; got != `Sign-ins <b>"&` {
			t.Fatalf("title reads %q", got)
		}
		if got := root.Children[1].Text; !strings.Contains(got, `Per hour "&<script>`) || !strings.Contains(got, "at <script>") {
			t.Fatalf("desc reads %q", got)
		}
		if got := strings.Join(root.texts(), "|"); !strings.Contains(got, "<script>") || !strings.Contains(got, `"&`) {
			t.Fatalf("axis labels %q", got)
		}
	})

	t.Run("empty data says no data", func(t *testing.T) {
		for _, out := range []template.HTML{
			svgchart.Bars("Sign-ins", "Per hour", nil, nil, svgchart.Options{}),
			svgchart.StackedBars("Sign-ins", "Per hour", nil, nil, svgchart.Options{}),
			svgchart.StackedBars("Sign-ins", "Per hour", nil, []svgchart.Series{{Name: "ok"}}, svgchart.Options{}),
		} {
			root := checkFrame(t, out)
			if got := root.texts(); len(got) != 1 || got[0] != "No data" {
				t.Fatalf("texts %q", got)
			}
			if !strings.Contains(root.Children[1].Text, "No data.") {
				t.Fatalf("desc %q", root.Children[1].Text)
			}
			if len(bars(root)) != 0 {
				t.Fatal("bars drawn for no data")
			}
		}
	})

	t.Run("scales bars to a round maximum", func(t *testing.T) {
		for _, tc := range []struct {
			values []float64
			top    string  // the axis' top label
			ratio  float64 // tallest bar / plot height
		}{
			{[]float64{5, 10, 2.5}, "10", 1},
			{[]float64{7, 1}, "10", 0.7},
			{[]float64{42, 3}, "50", 0.84},
			{[]float64{0, 0}, "1", 0},
			{[]float64{0.3}, "0.5", 0.6},
		} {
			root := checkFrame(t, svgchart.Bars("t", "d", []string{"a", "b", "c"}, tc.values, svgchart.Options{}))
			lines := root.all("line")
			bottom, top := f(t, lines[0].Attr["y1"]), f(t, lines[len(lines)-1].Attr["y1"])
			plot := bottom - top
			labels := root.texts()
			if labels[2] != tc.top {
				t.Fatalf("%v: axis labels %q, want top %s", tc.values, labels, tc.top)
			}
			tallest := 0.0
			for _, r := range bars(root) {
				h := f(t, r.Attr["height"])
				tallest = math.Max(tallest, h)
				if y := f(t, r.Attr["y"]); math.Abs(y+h-bottom) > 0.02 {
					t.Fatalf("%v: bar does not stand on the axis: y %v + h %v != %v", tc.values, y, h, bottom)
				}
			}
			if math.Abs(tallest/plot-tc.ratio) > 0.001 {
				t.Fatalf("%v: tallest bar %.3f of the plot, want %.3f", tc.values, tallest/plot, tc.ratio)
			}
		}
	})

	t.Run("draws bad values as zero", func(t *testing.T) {
		root := checkFrame(t, svgchart.Bars("t", "d", []string{"a", "b", "c", "d"}, []float64{-3, math.NaN(), math.Inf(1), 4}, svgchart.Options{}))
		if got := len(bars(root)); got != 1 {
			t.Fatalf("%d bars, want 1", got)
		}
	})

	t.Run("summarizes the data in desc", func(t *testing.T) {
		root := checkFrame(t, svgchart.Bars("Sign-ins per hour", "Last 24 hours", hours, hourly(), svgchart.Options{Unit: "sign-ins"}))
		want := "Last 24 hours. 24 bars. Total 276 sign-ins, highest 23 at 23:00, lowest 0 at 00:00."
		if got := root.Children[1].Text; got != want {
			t.Fatalf("desc %q\nwant %q", got, want)
		}
	})

	t.Run("24 hour labels do not overlap at 390 px", func(t *testing.T) {
		root := checkFrame(t, svgchart.Bars("t", "d", hours, hourly(), svgchart.Options{}))
		vb := strings.Fields(root.Attr["viewBox"])
		scale := 390 / f(t, vb[2]) // px per unit at 390 px wide
		var xs []float64
		for _, tx := range root.all("text") {
			if tx.Attr["y"] == root.all("text")[len(root.all("text"))-1].Attr["y"] {
				xs = append(xs, f(t, tx.Attr["x"]))
			}
		}
		if len(xs) < 6 {
			t.Fatalf("only %d hour labels", len(xs))
		}
		// "00:00" at 12 units is about 5 × 7.2 = 36 units wide.
		for i := 1; i < len(xs); i++ {
			if xs[i]-xs[i-1] < 5*12*0.6 {
				t.Fatalf("labels %v and %v overlap", xs[i-1], xs[i])
			}
		}
		if px := 12 * scale; px < 11 {
			t.Fatalf("text is %.1f px at 390 px wide", px)
		}
	})

	t.Run("only safe colours", func(t *testing.T) {
		root := checkFrame(t, svgchart.Bars("t", "d", []string{"a"}, []float64{1}, svgchart.Options{Colors: []string{`red" onload="x`}}))
		if got := bars(root)[0].Attr["fill"]; got != svgchart.Palette[0] {
			t.Fatalf("fill %q", got)
		}
		root = checkFrame(t, svgchart.Bars("t", "d", []string{"a"}, []float64{1}, svgchart.Options{Colors: []string{"#123"}}))
		if got := bars(root)[0].Attr["fill"]; got != "#123" {
			t.Fatalf("fill %q", got)
		}
	})

	t.Run("two charts with the same id option keep it; others differ", func(t *testing.T) {
		a := checkFrame(t, svgchart.Bars("a", "d", nil, []float64{1}, svgchart.Options{ID: "signins"}))
		if a.Children[0].Attr["id"] != "signins-title" {
			t.Fatalf("id %q", a.Children[0].Attr["id"])
		}
		b := checkFrame(t, svgchart.Bars("b", "d", nil, []float64{1}, svgchart.Options{ID: `x" y`}))
		c := checkFrame(t, svgchart.Bars("c", "d", nil, []float64{1}, svgchart.Options{}))
		if b.Children[0].Attr["id"] == c.Children[0].Attr["id"] || strings.Contains(b.Children[0].Attr["id"], `"`) {
			t.Fatal("derived ids collide or keep an unsafe option")
		}
	})

	t.Run("matches the golden file", func(t *testing.T) {
		out := svgchart.Bars("Sign-ins per hour", "Last 24 hours", hours, hourly(), svgchart.Options{ID: "signins", Unit: "sign-ins"})
		golden(t, "bars.golden.svg", out)
	})
}

// hourly is 0, 1, ... 23.
func hourly() []float64 {
	v := make([]float64, 24)
	for i := range v {
		v[i] = float64(i)
	}
	return v
}

func golden(t *testing.T, name string, out template.HTML) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, []byte(out+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(out)+"\n" != string(want) {
		t.Fatalf("output differs from %s (run with -update if the change is meant):\n%s", path, out)
	}
}

func TestStackedBars(t *testing.T) {
	series := []svgchart.Series{
		{Name: "Successes", Values: []float64{10, 20, 0}},
		{Name: "Failures <&>", Values: []float64{5, 0, 2}},
	}
	out := svgchart.StackedBars("Sign-ins", "Successes and failures per hour", []string{"a", "b", "c"}, series, svgchart.Options{Colors: []string{"#1a7f37", "#b42318"}})
	root := checkFrame(t, out)

	t.Run("stacks segments on one another from the axis", func(t *testing.T) {
		bs := bars(root)
		if len(bs) != 4 { // zero segments are not drawn
			t.Fatalf("%d segments, want 4", len(bs))
		}
		ok, fail := bs[0], bs[1] // bar "a": success below, failure on top
		if ok.Attr["x"] != fail.Attr["x"] || math.Abs(f(t, fail.Attr["y"])+f(t, fail.Attr["height"])-f(t, ok.Attr["y"])) > 0.02 {
			t.Fatalf("failure segment not on top of success: %v %v", ok.Attr, fail.Attr)
		}
		if ok.Attr["fill"] != "#1a7f37" || fail.Attr["fill"] != "#b42318" {
			t.Fatalf("fills %s %s", ok.Attr["fill"], fail.Attr["fill"])
		}
		// The scale is set by the tallest stack (20), not a series.
		if texts := root.texts(); !strings.Contains(strings.Join(texts, "|"), "|20|") && !strings.Contains(strings.Join(texts, "|"), "|25|") {
			t.Fatalf("axis %q", texts)
		}
	})

	t.Run("has a legend and a summary per series", func(t *testing.T) {
		texts := root.texts()
		if texts[0] != "Successes" || texts[1] != "Failures <&>" {
			t.Fatalf("legend %q", texts[:2])
		}
		want := "Successes and failures per hour. 3 bars, 37 in all. Successes: total 30, highest 20 at b, lowest 0 at c. Failures <&>: total 7, highest 5 at a, lowest 0 at b."
		if got := root.Children[1].Text; got != want {
			t.Fatalf("desc %q\nwant %q", got, want)
		}
	})
}

func TestDonut(t *testing.T) {
	t.Run("fills the ring to the ratio and says it", func(t *testing.T) {
		root := checkFrame(t, svgchart.Donut("MFA coverage", "Accounts with a second factor", "of accounts", 870, 1000, svgchart.Options{Unit: "accounts"}))
		circles := root.all("circle")
		if len(circles) != 2 {
			t.Fatalf("%d circles", len(circles))
		}
		dash := strings.Fields(circles[1].Attr["stroke-dasharray"])
		if r := f(t, dash[0]) / f(t, dash[1]); math.Abs(r-0.87) > 0.001 {
			t.Fatalf("arc is %.3f of the ring", r)
		}
		if texts := root.texts(); texts[0] != "87%" || texts[1] != "of accounts" {
			t.Fatalf("texts %q", texts)
		}
		if got, want := root.Children[1].Text, "Accounts with a second factor. 87% of accounts (870 of 1000 accounts)."; got != want {
			t.Fatalf("desc %q\nwant %q", got, want)
		}
	})
	t.Run("never rounds up to a full ring", func(t *testing.T) {
		root := checkFrame(t, svgchart.Donut("t", "d", "", 999, 1000, svgchart.Options{}))
		if got := root.texts()[0]; got != "99.9%" {
			t.Fatalf("%q", got)
		}
		root = checkFrame(t, svgchart.Donut("t", "d", "", 2000, 1000, svgchart.Options{}))
		if got := root.texts()[0]; got != "100%" {
			t.Fatalf("%q", got)
		}
	})
	t.Run("no whole says no data", func(t *testing.T) {
		root := checkFrame(t, svgchart.Donut("t", "d", "", 0, 0, svgchart.Options{}))
		if got := root.texts(); len(got) != 1 || got[0] != "No data" || len(root.all("circle")) != 0 {
			t.Fatalf("texts %q", got)
		}
	})
	t.Run("escapes the caption", func(t *testing.T) {
		out := svgchart.Donut("t", "d", `<script>"&`, 1, 2, svgchart.Options{})
		root := checkFrame(t, out)
		if strings.Contains(string(out), "<script") || root.texts()[1] != `<script>"&` {
			t.Fatalf("%s", out)
		}
	})
	t.Run("matches the golden file", func(t *testing.T) {
		golden(t, "donut.golden.svg", svgchart.Donut("MFA coverage", "Accounts with a second factor", "of accounts", 870, 1000, svgchart.Options{ID: "mfa"}))
	})
}
