package trainer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"syscall"

	"github.com/atod-dev/atod/trainer/atod"
	"github.com/atod-dev/atod/trainer/rollout"
)

// StepMetrics is one training line of metrics.jsonl.
type StepMetrics struct {
	Kind          string    `json:"kind"` // "train"
	Step          int       `json:"step"`
	Lambda        float64   `json:"lambda"` // the RL share ρ/(κ + ρ): λ in the convex form
	Kappa         float64   `json:"kappa"`  // κ(s), the OPD term's coefficient
	Rho           float64   `json:"rho"`    // ρ(s), the RL term's coefficient
	Success       float64   `json:"success"`
	MeanReturn    float64   `json:"mean_return"`
	EpisodeLen    float64   `json:"episode_len"`
	InvalidRate   float64   `json:"invalid_rate"`
	ReverseKL     jsonFloat `json:"reverse_kl"`
	WMean         jsonFloat `json:"tdur_w_mean"`
	WMin          jsonFloat `json:"tdur_w_min"`
	WMax          jsonFloat `json:"tdur_w_max"`
	WStd          jsonFloat `json:"tdur_w_std"`
	Loss          jsonFloat `json:"loss"` // null when the step was skipped for NaN/Inf
	GradNorm      jsonFloat `json:"grad_norm"`
	LR            float64   `json:"lr"`
	Tokens        int       `json:"tokens"`     // action tokens trained on
	SeqTokens     int       `json:"seq_tokens"` // all tokens of the train sequences (the forward pass size)
	Skipped       bool      `json:"skipped"`
	SkippedTotal  int       `json:"skipped_total"`
	EnvFailures   int       `json:"env_failures"`        // episode attempts the env failed
	EnvRetries    int       `json:"env_retries"`         // of those, replayed on a fresh env
	GroupsDrop    int       `json:"groups_dropped"`      // groups left out of the update for an episode the env kept failing
	NoSignal      float64   `json:"groups_no_signal"`    // share of groups with equal returns (a_rl = 0)
	PenaltyOnly   float64   `json:"groups_penalty_only"` // share of groups with equal scores whose returns differ by invalid actions alone
	Filtered      float64   `json:"groups_filtered"`     // share of groups left out of the RL term (grpo.filter_groups)
	Mismatch      jsonFloat `json:"mismatch"`            // mean |lp_learner − lp_sampler| over action tokens (null: not measured)
	DistillWeight float64   `json:"distill_weight"`      // η(s), the top-k distillation term's weight (0: off)
	DistillKL     jsonFloat `json:"distill_kl"`          // mean top-k KL(teacher ‖ learner) over action tokens (null: off)
	ReturnStd     float64   `json:"return_std"`          // mean within-group std of R
	AdvRLAbs      float64   `json:"adv_rl_abs"`          // mean |a_rl| over episodes
	TokensPerS    float64   `json:"tokens_per_s"`
	RolloutS      float64   `json:"rollout_s"`
	ScoreS        float64   `json:"score_s"`
	TrainS        float64   `json:"train_s"`
	SyncS         float64   `json:"sync_s"`
	PeakRSSMB     float64   `json:"peak_rss_mb"`
}

// jsonFloat encodes NaN and ±Inf as null (JSON has no such numbers).
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(f))
}

// EvalMetrics is one evaluation line of metrics.jsonl.
type EvalMetrics struct {
	Kind        string  `json:"kind"` // "eval"
	Step        int     `json:"step"`
	Model       string  `json:"model"` // "student" | "teacher"
	Split       string  `json:"split"`
	Tasks       int     `json:"tasks"`
	Success     float64 `json:"success"`
	MeanReturn  float64 `json:"mean_return"`
	EpisodeLen  float64 `json:"episode_len"`
	InvalidRate float64 `json:"invalid_rate"`
	Failed      int     `json:"failed"` // episodes the env failed, left out of the figures
	Won         string  `json:"won"`    // per task in draw order: 1 won, 0 lost, - failed by the env
	Seconds     float64 `json:"seconds"`
}

// weightStats returns mean, min, max and std of the turn weights of non-empty turns.
func weightStats(eps []*rollout.Episode, w [][]float64) (mean, lo, hi, std float64) {
	var xs []float64
	for i, e := range eps {
		for k, t := range e.Turns {
			if t.N > 0 {
				xs = append(xs, w[i][k])
			}
		}
	}
	if len(xs) == 0 {
		return 1, 1, 1, 0
	}
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, x := range xs {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	mean, std = atod.MeanStd(xs)
	return
}

// peakRSSMB is the process's peak resident set size.
func peakRSSMB() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	if runtime.GOOS == "darwin" { // bytes there, KiB on Linux
		return float64(ru.Maxrss) / (1 << 20)
	}
	return float64(ru.Maxrss) / (1 << 10)
}

// appendJSONL appends one JSON line and syncs, so a kill loses at most the line being written.
func appendJSONL(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// truncateMetrics keeps the lines of steps ≤ step (a torn line is dropped).
func truncateMetrics(path string, step int) error {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	} else if err != nil {
		return err
	}
	var keep bytes.Buffer
	for _, line := range bytes.Split(data, []byte("\n")) {
		var r struct{ Step int }
		if len(line) == 0 || json.Unmarshal(line, &r) != nil || r.Step > step {
			continue
		}
		keep.Write(line)
		keep.WriteByte('\n')
	}
	if err := WriteFileAtomic(path, keep.Bytes()); err != nil {
		return fmt.Errorf("truncate metrics: %w", err)
	}
	return nil
}

// WriteFileAtomic writes data to a temp file next to path, syncs it and renames
// it over path, so a crash leaves the old file or the new one, never a part.
func WriteFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// ReadMetrics reads a run's metrics.jsonl back: its training and evaluation
// lines. A torn last line (a run killed while writing it, or still writing
// it) is left out; a malformed line before it is an error.
func ReadMetrics(runDir string) ([]StepMetrics, []EvalMetrics, error) {
	data, err := os.ReadFile(filepath.Join(runDir, "metrics.jsonl"))
	if err != nil {
		return nil, nil, err
	}
	var train []StepMetrics
	var eval []EvalMetrics
	lines := bytes.SplitAfter(data, []byte("\n"))
	for i, line := range lines {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var k struct{ Kind string }
		err := json.Unmarshal(line, &k)
		switch {
		case err == nil && k.Kind == "train":
			var m StepMetrics
			err = json.Unmarshal(line, &m)
			train = append(train, m)
		case err == nil && k.Kind == "eval":
			var m EvalMetrics
			err = json.Unmarshal(line, &m)
			eval = append(eval, m)
		}
		if err != nil {
			if i == len(lines)-1 && !bytes.HasSuffix(line, []byte("\n")) {
				break // torn
			}
			return nil, nil, fmt.Errorf("%s line %d: %w", filepath.Join(runDir, "metrics.jsonl"), i+1, err)
		}
	}
	return train, eval, nil
}

// DropTimes returns ms without the wall-clock and memory fields, the ones that
// differ between two runs of one config (resume is checked this way).
func DropTimes(ms []StepMetrics) []StepMetrics {
	out := append([]StepMetrics(nil), ms...)
	for i := range out {
		out[i].TokensPerS, out[i].RolloutS, out[i].ScoreS, out[i].TrainS, out[i].SyncS, out[i].PeakRSSMB = 0, 0, 0, 0, 0, 0
	}
	return out
}
