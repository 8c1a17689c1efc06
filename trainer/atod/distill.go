package atod

// Distill is the top-k distillation term: at each action token, the forward KL
// from the teacher's top-k list plus a tail bucket to the student's same
// buckets, added to the loss with weight η(s) = weight → weight_end along its
// own ramp (shape, warmup, anneal_steps, kappa): the run config's [distill].
type Distill struct {
	TopK      int     `toml:"topk,omitzero"` // K; 0 = off
	Weight    float64 `toml:"weight,omitzero"`
	WeightEnd float64 `toml:"weight_end,omitzero"`
	Ramp
}

// At is η(step), 0 when the term is off.
func (d Distill) At(step int) float64 {
	if d.TopK == 0 {
		return 0
	}
	return d.Ramp.At(step, d.Weight, d.WeightEnd)
}
