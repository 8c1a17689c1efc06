// Package rundir is the run directory's formats: the lines of metrics.jsonl,
// the recorded episodes, the checkpoints, and the names of the files a run
// writes. The trainer writes them; atod view, atod compare and the report
// read them through this package alone.
package rundir

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
)

// The files a run directory holds besides episodes/ and ckpt/.
const (
	ConfigFile  = "config.toml"   // the resolved config the run started with
	MetricsFile = "metrics.jsonl" // one StepMetrics or EvalMetrics line each
	ReportFile  = "report.md"
)

// StepMetrics is one training line of metrics.jsonl.
type StepMetrics struct {
	Kind          string  `json:"kind"` // "train"
	Step          int     `json:"step"`
	Lambda        float64 `json:"lambda"` // the RL share ρ/(κ + ρ): λ in the convex form
	Kappa         float64 `json:"kappa"`  // κ(s), the OPD term's coefficient
	Rho           float64 `json:"rho"`    // ρ(s), the RL term's coefficient
	Success       float64 `json:"success"`
	MeanReturn    float64 `json:"mean_return"`
	EpisodeLen    float64 `json:"episode_len"`
	InvalidRate   float64 `json:"invalid_rate"`
	ReverseKL     Float   `json:"reverse_kl"`
	WMean         Float   `json:"tdur_w_mean"`
	WMin          Float   `json:"tdur_w_min"`
	WMax          Float   `json:"tdur_w_max"`
	WStd          Float   `json:"tdur_w_std"`
	WByTurn       []Float `json:"tdur_w_by_turn"` // k-th entry: mean w_k over the episodes whose turn k has action tokens
	Loss          Float   `json:"loss"`           // null when the step was skipped for NaN/Inf
	GradNorm      Float   `json:"grad_norm"`
	LR            float64 `json:"lr"`
	Tokens        int     `json:"tokens"`     // action tokens trained on
	SeqTokens     int     `json:"seq_tokens"` // all tokens of the train sequences (the forward pass size)
	Skipped       bool    `json:"skipped"`
	SkippedTotal  int     `json:"skipped_total"`
	EnvFailures   int     `json:"env_failures"`        // episode attempts the env failed
	EnvRetries    int     `json:"env_retries"`         // of those, replayed on a fresh env
	GroupsDrop    int     `json:"groups_dropped"`      // groups left out of the update for an episode the env kept failing
	NoSignal      float64 `json:"groups_no_signal"`    // share of groups with equal returns (a_rl = 0)
	PenaltyOnly   float64 `json:"groups_penalty_only"` // share of groups with equal scores whose returns differ by invalid actions alone
	Filtered      float64 `json:"groups_filtered"`     // share of groups left out of the RL term (grpo.filter_groups)
	Mismatch      Float   `json:"mismatch"`            // mean |lp_learner − lp_sampler| over action tokens (null: not measured)
	DistillWeight float64 `json:"distill_weight"`      // η(s), the top-k distillation term's weight (0: off)
	DistillKL     Float   `json:"distill_kl"`          // mean top-k KL(teacher ‖ learner) over action tokens (null: off)
	ReturnStd     float64 `json:"return_std"`          // mean within-group std of R
	AdvRLAbs      float64 `json:"adv_rl_abs"`          // mean |a_rl| over episodes
	GroupsWithWin float64 `json:"groups_with_win"`     // share of groups with a won episode
	RLAbsFromWins float64 `json:"rl_abs_from_wins"`    // share of Σ|a_rl| over episodes from groups with a won episode (0 when Σ = 0)
	TokensPerS    float64 `json:"tokens_per_s"`
	RolloutS      float64 `json:"rollout_s"`
	ScoreS        float64 `json:"score_s"`
	TrainS        float64 `json:"train_s"`
	SyncS         float64 `json:"sync_s"`
	PeakRSSMB     float64 `json:"peak_rss_mb"`
}

// Float is a float64 that encodes NaN and ±Inf as null.
type Float float64

func (f Float) MarshalJSON() ([]byte, error) {
	return finiteOrNull(float64(f), func(x float64) ([]byte, error) { return json.Marshal(x) })
}

// finiteOrNull is enc(x), or null where x is NaN or ±Inf (JSON has no such numbers).
func finiteOrNull(x float64, enc func(float64) ([]byte, error)) ([]byte, error) {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return []byte("null"), nil
	}
	return enc(x)
}

// EvalMetrics is one evaluation line of metrics.jsonl.
type EvalMetrics struct {
	Kind        string   `json:"kind"` // "eval"
	Step        int      `json:"step"`
	Model       string   `json:"model"` // "student" | "teacher"
	Split       string   `json:"split"`
	Temperature float64  `json:"temperature"` // 0: greedy (absent in runs from before it: greedy too)
	Tasks       int      `json:"tasks"`
	Success     float64  `json:"success"`
	MeanReturn  float64  `json:"mean_return"`
	EpisodeLen  float64  `json:"episode_len"`
	InvalidRate float64  `json:"invalid_rate"`
	Failed      int      `json:"failed"`          // episodes the env failed, left out of the figures
	Won         string   `json:"won"`             // per task in draw order: 1 won, 0 lost, - failed by the env
	Types       []string `json:"types,omitempty"` // per task in draw order, as Won: its type, where the env has them
	Seconds     float64  `json:"seconds"`
}

// MainEvals is the evaluations at the run's own temperature (eval.temperature,
// its first evaluation's), without those that eval.sampled_temperature adds.
func MainEvals(evals []EvalMetrics) []EvalMetrics {
	var out []EvalMetrics
	for _, e := range evals {
		if e.Temperature == evals[0].Temperature {
			out = append(out, e)
		}
	}
	return out
}

// AppendJSONL appends one JSON line and syncs, so a kill loses at most the line being written.
func AppendJSONL(path string, v any) error {
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

// TruncateMetrics keeps the lines of steps ≤ step (a torn line is dropped).
func TruncateMetrics(path string, step int) error {
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
	data, err := os.ReadFile(filepath.Join(runDir, MetricsFile))
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
			return nil, nil, fmt.Errorf("%s line %d: %w", filepath.Join(runDir, MetricsFile), i+1, err)
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
