package plot

import (
	"encoding/xml"
	"reflect"
	"strings"
	"testing"
)

func TestTicksAreRound(t *testing.T) {
	cases := []struct {
		lo, hi   float64
		want     []float64
		decimals int
	}{
		{0, 1, []float64{0, 0.2, 0.4, 0.6, 0.8, 1}, 1},
		{0, 20, []float64{0, 5, 10, 15, 20}, 0},
		{0.775, 5.75, []float64{0, 1, 2, 3, 4, 5, 6}, 0}, // the odd ticks of the old report
		{0, 0.033, []float64{0, 0.01, 0.02, 0.03, 0.04}, 2},
		{-3, 7, []float64{-4, -2, 0, 2, 4, 6, 8}, 0},
		{2.93, 3.18, []float64{2.9, 2.95, 3, 3.05, 3.1, 3.15, 3.2}, 2},
	}
	for _, c := range cases {
		got, d := Ticks(c.lo, c.hi, 5)
		if !reflect.DeepEqual(got, c.want) || d != c.decimals {
			t.Errorf("Ticks(%v, %v) = %v (%d decimals), want %v (%d)", c.lo, c.hi, got, d, c.want, c.decimals)
		}
	}
}

// The SVG holds each series' points, marks those of a marked series, and
// draws a band as one polygon.
func TestSVGPointsMarkersBands(t *testing.T) {
	svg := SVG("success", "step", "rate", true, []Series{
		{Name: "student", Color: "#000", X: []float64{0, 10, 20}, Y: []float64{0.1, 0.25, 0.5}, Markers: true,
			Lo: []float64{0, 0.2, 0.4}, Hi: []float64{0.2, 0.3, 0.6}},
		{Name: "teacher", Color: "#111", X: []float64{0, 20}, Y: []float64{0.4, 0.4}, Dashed: true},
	})
	var doc struct {
		Polylines []struct {
			Series string `xml:"data-series,attr"`
			Points string `xml:"data-points,attr"`
		} `xml:"polyline"`
		Circles  []struct{} `xml:"circle"`
		Polygons []struct{} `xml:"polygon"`
		Texts    []string   `xml:"text"`
	}
	if err := xml.Unmarshal([]byte(svg), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Polylines) != 2 || doc.Polylines[0].Points != "0:0.1 10:0.25 20:0.5" || doc.Polylines[1].Series != "teacher" {
		t.Errorf("polylines %+v", doc.Polylines)
	}
	if len(doc.Circles) != 3 || len(doc.Polygons) != 1 {
		t.Errorf("%d markers, %d bands", len(doc.Circles), len(doc.Polygons))
	}
	if !strings.Contains(strings.Join(doc.Texts, "|"), "|0.6|0.8|1.0|") {
		t.Errorf("y ticks: %q", doc.Texts)
	}
}
