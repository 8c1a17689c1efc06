// Package plot draws the line charts of a run's report and of atod view as
// self-contained SVG: round axis ticks (1, 2 or 5 times a power of ten),
// marked points where a series has few (held-out evaluations), bands for the
// spread of a group of runs, and a legend. Each polyline carries its series'
// name and points as data attributes, so a page or a test can read them back.
package plot

import (
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
)

// Series is one line of a chart.
type Series struct {
	Name, Color string
	X, Y        []float64
	Lo, Hi      []float64 // a band around the line (min and max over runs); nil = none
	Dashed      bool      // a reference line (the teacher)
	Markers     bool      // mark every point (evaluations)
}

// Ticks returns about n round tick values from the last at or below lo to the
// first at or above hi, and the decimals that print them exactly.
func Ticks(lo, hi float64, n int) ([]float64, int) {
	if !(hi > lo) {
		hi = lo + 1
	}
	raw := (hi - lo) / float64(max(n, 1))
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if step = m * mag; step >= raw {
			break
		}
	}
	decimals := max(0, -int(math.Floor(math.Log10(step)+1e-9)))
	var ts []float64
	for k := math.Floor(lo/step + 1e-9); k <= math.Ceil(hi/step-1e-9); k++ {
		v, _ := strconv.ParseFloat(strconv.FormatFloat(k*step, 'f', decimals, 64), 64)
		ts = append(ts, v+0) // +0: no "-0"
	}
	return ts, decimals
}

// SVG draws ss; unit fixes the y axis to [0, 1] (rates, λ), otherwise it fits the data.
func SVG(title, xlabel, ylabel string, unit bool, ss []Series) string {
	const w, h, left, right, top, bottom = 560.0, 320.0, 60.0, 20.0, 30.0, 45.0
	x0, x1, y0, y1 := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, s := range ss {
		for i := range s.X {
			x0, x1 = math.Min(x0, s.X[i]), math.Max(x1, s.X[i])
			y0, y1 = math.Min(y0, s.Y[i]), math.Max(y1, s.Y[i])
			if s.Lo != nil {
				y0, y1 = math.Min(y0, s.Lo[i]), math.Max(y1, s.Hi[i])
			}
		}
	}
	if math.IsInf(x0, 0) {
		x0, x1, y0, y1 = 0, 1, 0, 1
	}
	if unit {
		y0, y1 = 0, 1
	}
	xt, xd := Ticks(x0, x1, 5)
	yt, yd := Ticks(y0, y1, 5)
	// The axes end on round ticks.
	x0, x1, y0, y1 = xt[0], xt[len(xt)-1], yt[0], yt[len(yt)-1]
	px := func(x float64) float64 { return left + (x-x0)/(x1-x0)*(w-left-right) }
	py := func(y float64) float64 { return h - bottom - (y-y0)/(y1-y0)*(h-top-bottom) }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" font-family="sans-serif" font-size="11">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%g" y="18" text-anchor="middle" font-size="13">%s</text>`+"\n", w/2, html.EscapeString(title))
	for _, v := range xt {
		fmt.Fprintf(&b, `<text x="%.1f" y="%g" text-anchor="middle">%s</text>`+"\n", px(v), h-bottom+15, strconv.FormatFloat(v, 'f', xd, 64))
	}
	for _, v := range yt {
		fmt.Fprintf(&b, `<text x="%g" y="%.1f" text-anchor="end">%s</text>`+"\n", left-5, py(v)+4, strconv.FormatFloat(v, 'f', yd, 64))
		fmt.Fprintf(&b, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#ddd"/>`+"\n", left, py(v), w-right, py(v))
	}
	fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="black"/>`+"\n", left, h-bottom, w-right, h-bottom)
	fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="black"/>`+"\n", left, top, left, h-bottom)
	fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="middle">%s</text>`+"\n", (left+w-right)/2, h-8, html.EscapeString(xlabel))
	fmt.Fprintf(&b, `<text x="14" y="%g" text-anchor="middle" transform="rotate(-90 14 %g)">%s</text>`+"\n", (top+h-bottom)/2, (top+h-bottom)/2, html.EscapeString(ylabel))
	for i, s := range ss {
		if s.Lo != nil {
			var band []string
			for j := range s.X {
				band = append(band, fmt.Sprintf("%.1f,%.1f", px(s.X[j]), py(s.Hi[j])))
			}
			for j := len(s.X) - 1; j >= 0; j-- {
				band = append(band, fmt.Sprintf("%.1f,%.1f", px(s.X[j]), py(s.Lo[j])))
			}
			fmt.Fprintf(&b, `<polygon fill="%s" fill-opacity="0.18" stroke="none" points="%s"/>`+"\n", s.Color, strings.Join(band, " "))
		}
		var pts, data []string
		for j := range s.X {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(s.X[j]), py(s.Y[j])))
			data = append(data, strconv.FormatFloat(s.X[j], 'g', -1, 64)+":"+strconv.FormatFloat(s.Y[j], 'g', 6, 64))
		}
		dash := ""
		if s.Dashed {
			dash = ` stroke-dasharray="6 4"`
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s" data-series="%s" data-points="%s"/>`+"\n",
			s.Color, dash, strings.Join(pts, " "), html.EscapeString(s.Name), strings.Join(data, " "))
		if s.Markers || len(pts) == 1 {
			for j := range s.X {
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="white" stroke="%s" stroke-width="2"/>`+"\n", px(s.X[j]), py(s.Y[j]), s.Color)
			}
		}
		ly := top + 14*float64(i) + 6
		fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="%s" stroke-width="2"%s/>`+"\n", w-right-150, ly, w-right-130, ly, s.Color, dash)
		fmt.Fprintf(&b, `<text x="%g" y="%g">%s</text>`+"\n", w-right-125, ly+4, html.EscapeString(s.Name))
	}
	b.WriteString("</svg>\n")
	return b.String()
}
