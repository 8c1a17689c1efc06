package trainer

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// writeReport renders report.md and its SVG plots from metrics.jsonl.
func writeReport(runDir string) error {
	recs, err := readRecords(filepath.Join(runDir, "metrics.jsonl"))
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	var student, lambda, kl, trainSucc series
	student = series{name: "student", color: "#1f77b4"}
	lambda = series{name: "λ", color: "#d62728"}
	kl = series{name: "reverse KL", color: "#9467bd"}
	trainSucc = series{name: "train success", color: "#2ca02c"}
	teacher, hasTeacher := 0.0, false
	var last record
	for _, r := range recs {
		switch {
		case r.Kind == "eval" && r.Model == "teacher":
			teacher, hasTeacher = r.Success, true
		case r.Kind == "eval":
			student.x, student.y = append(student.x, float64(r.Step)), append(student.y, r.Success)
		case r.Kind == "train":
			x := float64(r.Step)
			lambda.x, lambda.y = append(lambda.x, x), append(lambda.y, r.Lambda)
			kl.x, kl.y = append(kl.x, x), append(kl.y, r.KL)
			trainSucc.x, trainSucc.y = append(trainSucc.x, x), append(trainSucc.y, r.Success)
			last = r
		}
	}
	succ := []series{student}
	if hasTeacher && len(student.x) > 0 {
		lo, hi := student.x[0], student.x[len(student.x)-1]
		succ = append(succ, series{name: "teacher", color: "#ff7f0e", x: []float64{lo, hi}, y: []float64{teacher, teacher}, dashed: true})
	}
	plots := map[string]string{
		"success.svg":    svgPlot("held-out success", "step", "success rate", true, succ),
		"lambda.svg":     svgPlot("λ (RL weight)", "step", "λ", true, []series{lambda}),
		"reverse_kl.svg": svgPlot("reverse KL to the teacher (rollouts)", "step", "mean lp_s − lp_t", false, []series{kl}),
		"train.svg":      svgPlot("rollout success", "step", "success rate", true, []series{trainSucc}),
	}
	if err := os.MkdirAll(filepath.Join(runDir, "plots"), 0o755); err != nil {
		return err
	}
	for name, svg := range plots {
		if err := WriteFileAtomic(filepath.Join(runDir, "plots", name), []byte(svg)); err != nil {
			return err
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# ATOD run: %s\n\n", filepath.Base(runDir))
	fmt.Fprintf(&b, "Config: [config.toml](config.toml). Metrics: [metrics.jsonl](metrics.jsonl).\n\n")
	fmt.Fprintf(&b, "| | value |\n|---|---|\n| steps | %d |\n", last.Step)
	if n := len(student.y); n > 0 {
		fmt.Fprintf(&b, "| held-out success, step %g | %.3f |\n| held-out success, step %g | %.3f |\n", student.x[0], student.y[0], student.x[n-1], student.y[n-1])
	}
	if hasTeacher {
		fmt.Fprintf(&b, "| teacher held-out success | %.3f |\n", teacher)
	}
	if last.Step > 0 {
		fmt.Fprintf(&b, "| last λ | %.3f |\n| last reverse KL | %.4f |\n| last loss | %.4f |\n", last.Lambda, last.KL, last.Loss)
	}
	b.WriteString("\n![held-out success](plots/success.svg)\n\n![λ](plots/lambda.svg)\n\n")
	b.WriteString("![reverse KL](plots/reverse_kl.svg)\n\n![rollout success](plots/train.svg)\n")
	return WriteFileAtomic(filepath.Join(runDir, "report.md"), []byte(b.String()))
}
