package trainer

import (
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atod-dev/atod/trainer/fake"
)

// The report's plots are well-formed SVG holding the run's points: student
// success per eval, the teacher line, λ per step.
func TestReportPlots(t *testing.T) {
	cfg := fakeConfig(t, "steps=6", "eval.every=3", "schedule.shape=linear", "schedule.anneal_steps=6")
	if _, err := Run(cfg, RunOptions{Open: (&fakeOpener{lr: 30}).open, Env: fake.Echo{Turns: 2}, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"success.svg", "lambda.svg", "reverse_kl.svg", "train.svg"} {
		b, err := os.ReadFile(filepath.Join(cfg.OutDir, "plots", name))
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Polylines []struct {
				Points string `xml:"points,attr"`
				Dash   string `xml:"stroke-dasharray,attr"`
			} `xml:"polyline"`
		}
		if err := xml.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		switch name {
		case "success.svg": // student evals at steps 0, 3, 6; the teacher as a dashed 2-point line
			if len(doc.Polylines) != 2 || len(strings.Fields(doc.Polylines[0].Points)) != 3 ||
				len(strings.Fields(doc.Polylines[1].Points)) != 2 || doc.Polylines[1].Dash == "" {
				t.Errorf("success plot: %+v", doc.Polylines)
			}
		case "lambda.svg":
			if len(doc.Polylines) != 1 || len(strings.Fields(doc.Polylines[0].Points)) != 6 {
				t.Errorf("λ plot: %+v", doc.Polylines)
			}
		}
	}
	rep, _ := os.ReadFile(filepath.Join(cfg.OutDir, "report.md"))
	if !strings.Contains(string(rep), "plots/success.svg") || !strings.Contains(string(rep), "teacher held-out success | 1.000") {
		t.Errorf("report.md:\n%s", rep)
	}
}
