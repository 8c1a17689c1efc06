package trainer

import (
	"fmt"
	"slices"
	"strings"

	"github.com/atod-dev/atod/trainer/atod"
)

// Methods are the presets the `method` key selects, in the order docs list them.
var Methods = []string{"atod", "opd", "grpo", "atod-no-tdur", "atod-no-anneal", "atod-convex"}

// DefaultMethod is the method of a config that names none.
const DefaultMethod = "atod"

// applyMethod sets the algorithm keys of the named preset on c; every other key
// (anneal_steps, the exp steepness, the levers) is left as it is.
//   - atod: the paper's: κ 1 → 0.1, ρ 1 → 2 linear, T-DUR soft-OR, unclipped Δ,
//     per-sequence loss;
//   - opd: κ ≡ 1, ρ ≡ 0, no T-DUR; grpo: κ ≡ 0 (ρ as atod's);
//   - atod-no-tdur: w ≡ 1; atod-no-anneal: κ ≡ κ_init, ρ ≡ ρ_init (the paper gives
//     no values: its initial ones);
//   - atod-convex: atod's earlier form, cosine λ 0 → 1, z-score T-DUR, clip 5, per-token loss.
func applyMethod(c *Config, name string) error {
	if !slices.Contains(Methods, name) {
		return fmt.Errorf("method = %q: want one of %s", name, strings.Join(Methods, ", "))
	}
	c.Method = name
	s := &c.Schedule
	if name == "atod-convex" {
		s.Form, s.Shape, s.Lambda0, s.Lambda1 = "convex", "cosine", 0, 1
		s.KappaInit, s.KappaMin, s.RhoInit, s.RhoMax = 0, 0, 0, 0
		c.TDUR = atod.TDUR{Enabled: true, Form: "zscore", Beta: 0.5, Tau: 1, WMin: 0.25, WMax: 4, Disagreement: "logratio", TopK: 8}
		c.OPD.Clip, c.Loss.Aggregation = 5, "token"
		return nil
	}
	s.Form, s.Shape = "coefficients", "linear"
	s.KappaInit, s.KappaMin, s.RhoInit, s.RhoMax = 1, 0.1, 1, 2
	c.TDUR.Enabled, c.TDUR.Form = true, "paper"
	c.OPD.Clip, c.Loss.Aggregation = 0, "sequence"
	switch name {
	case "opd":
		s.Shape, s.KappaInit, s.KappaMin, s.RhoInit, s.RhoMax = "constant", 1, 1, 0, 0
		c.TDUR.Enabled = false
	case "grpo":
		s.KappaInit, s.KappaMin = 0, 0
		c.TDUR.Enabled = false
	case "atod-no-tdur":
		c.TDUR.Enabled = false
	case "atod-no-anneal":
		s.Shape = "constant"
	}
	return nil
}
