package model

import (
	"fmt"
	"slices"
	"strings"
)

// LoRATargets are the matrices a LoRA adapter can train, in the order of the
// native learner's target bits: bit i of atod_train_params.lora_targets is
// LoRATargets[i] (cgo/learn/train.cpp lists the layer's matrices the same way).
var LoRATargets = []string{"q", "k", "v", "o", "gate", "up", "down"}

// Backends are the values of backend.device: auto (a GPU if one is
// registered, else the CPU), cpu, cuda and metal.
var Backends = []string{"auto", "cpu", "cuda", "metal"}

// LoRA is the shape of the trained weights: the run config's [lora].
type LoRA struct {
	Rank        int      `toml:"rank"`
	Alpha       float64  `toml:"alpha"`
	Targets     []string `toml:"targets"`      // among LoRATargets
	FullWeights bool     `toml:"full_weights"` // train every weight (tiny models from scratch) instead of LoRA
}

// Optim is how the learner steps and what it keeps in memory: the run config's [optim].
type Optim struct {
	LR          float64 `toml:"lr"`
	Beta1       float64 `toml:"beta1"`
	Beta2       float64 `toml:"beta2"`
	Eps         float64 `toml:"eps"`
	WeightDecay float64 `toml:"weight_decay"`
	ClipNorm    float64 `toml:"clip_norm"` // global-norm clip, 0 = off
	Warmup      int     `toml:"warmup"`    // steps of linear warmup, then cosine decay to LR·MinLRRatio at the run's last step
	MinLRRatio  float64 `toml:"min_lr_ratio"`
	MicroTokens int     `toml:"micro_tokens"` // tokens per micro-batch, padding included
	// Recompute: backward rebuilds each layer from its saved input (activation
	// checkpointing): memory linear in tokens, ~1.3× the step's compute, the same numbers.
	Recompute bool `toml:"recompute"`
	// KeepMLPMB (recompute, LoRA): MiB for the MLP inputs kept from the forward,
	// which the backward of the top layers they fit then skips.
	KeepMLPMB int `toml:"keep_mlp_mb"`
}

// KeepMLPBytes is KeepMLPMB in bytes.
func (o *Optim) KeepMLPBytes() int64 { return int64(o.KeepMLPMB) << 20 }

// CheckTargets reports a target that is not one of LoRATargets.
func CheckTargets(targets []string) error {
	for _, t := range targets {
		if !slices.Contains(LoRATargets, t) {
			return fmt.Errorf("%q is not one of %s", t, strings.Join(LoRATargets, ", "))
		}
	}
	return nil
}

// CheckBackend reports a device that is not one of Backends.
func CheckBackend(device string) error {
	if !slices.Contains(Backends, device) {
		return fmt.Errorf("%q: want %s", device, strings.Join(Backends, ", "))
	}
	return nil
}
