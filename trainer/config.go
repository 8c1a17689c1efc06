package trainer

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/atod-dev/atod/envs"
	"github.com/atod-dev/atod/model"
	"github.com/atod-dev/atod/trainer/atod"
	"github.com/atod-dev/atod/trainer/rollout"
	"github.com/atod-dev/atod/trainer/scoring"
)

// Config is one run; every key is documented in docs/config.md.
type Config struct {
	// Method is the preset under the file's keys (method.go); Hash leaves it
	// out, since the keys it set are hashed themselves.
	Method string `toml:"method,omitempty"`
	Seed   int64  `toml:"seed"`
	Steps  int    `toml:"steps"`
	OutDir string `toml:"out_dir"`

	Student    ModelConfig      `toml:"student"`
	Teacher    TeacherConfig    `toml:"teacher"`
	LoRA       model.LoRA       `toml:"lora"`
	Env        EnvConfig        `toml:"env"`
	Rollout    RolloutConfig    `toml:"rollout"`
	Sampling   SamplingConfig   `toml:"sampling"`
	Schedule   atod.Schedule    `toml:"schedule"`
	TDUR       atod.TDUR        `toml:"tdur"`
	OPD        atod.OPD         `toml:"opd"`
	GRPO       atod.GRPO        `toml:"grpo"`
	Loss       atod.Loss        `toml:"loss,omitempty"`
	Distill    atod.Distill     `toml:"distill,omitempty"`
	Optim      model.Optim      `toml:"optim"`
	Eval       EvalConfig       `toml:"eval"`
	Checkpoint CheckpointConfig `toml:"checkpoint"`
	Record     RecordConfig     `toml:"record"`
	Backend    BackendConfig    `toml:"backend"`
}

type ModelConfig struct {
	Model string `toml:"model"` // GGUF path, relative to the config file
}

// TeacherConfig is a local GGUF teacher (model) or a server that scores for
// one (url, api; the API key comes from $ATOD_TEACHER_API_KEY).
type TeacherConfig struct {
	Model       string  `toml:"model"` // GGUF path, relative to the config file
	URL         string  `toml:"url,omitempty"`
	API         string  `toml:"api,omitempty"`         // vllm | sglang | atod
	Timeout     float64 `toml:"timeout,omitzero"`      // seconds per request
	Retries     int     `toml:"retries,omitzero"`      // further tries of a request the server failed or let time out
	Backoff     float64 `toml:"backoff,omitzero"`      // seconds before the first retry, doubled each time
	Parallel    int     `toml:"parallel,omitzero"`     // requests in flight
	PieceTokens int     `toml:"piece_tokens,omitzero"` // positions scored per request at most; 0 = whole transcripts
}

type EnvConfig struct {
	Name    string         `toml:"name"`
	Options map[string]any `toml:"options"`
}

type RolloutConfig struct {
	TasksPerStep   int     `toml:"tasks_per_step"`
	GroupSize      int     `toml:"group_size"`
	MaxTurns       int     `toml:"max_turns"`
	History        string  `toml:"history"` // "full" | "last"
	LastN          int     `toml:"last_n"`
	Think          bool    `toml:"think"`
	ShowAdmissible bool    `toml:"show_admissible"`
	Context        int     `toml:"context"` // tokens per sequence
	InvalidPenalty float64 `toml:"invalid_penalty"`
	EnvRetries     int     `toml:"env_retries"`      // replays of an episode the env failed
	EnvBackoff     float64 `toml:"env_backoff"`      // seconds before the first replay, doubled each time
	MaxFailedShare float64 `toml:"max_failed_share"` // share of a step's groups that may be dropped before the run stops
}

type SamplingConfig struct {
	Temperature float64 `toml:"temperature"`
	TopP        float64 `toml:"top_p"`
	TopK        int     `toml:"top_k"`
	MaxTokens   int     `toml:"max_tokens"`
}

type EvalConfig struct {
	Every       int     `toml:"every"` // steps; 0 = only at step 0 and the end
	Tasks       int     `toml:"tasks"`
	Split       string  `toml:"split"`
	Temperature float64 `toml:"temperature"`
	// SampledTemperature > 0 plays every evaluation a second time, sampled at it
	// (the paper's validation temperature, 0.4); 0 = off.
	SampledTemperature float64 `toml:"sampled_temperature,omitzero"`
	Teacher            bool    `toml:"teacher"`
	Seed               int64   `toml:"seed"` // draws the held-out tasks; 0 = the run's seed
}

// RecordConfig is what the run directory keeps of its episodes, for atod view.
type RecordConfig struct {
	Episodes int  `toml:"episodes"` // training episodes recorded per step (the first of the first groups)
	Eval     bool `toml:"eval"`     // record every evaluation episode
}

type CheckpointConfig struct {
	Every int `toml:"every"` // steps; the last step is always checkpointed
}

type BackendConfig struct {
	Device      string `toml:"device"` // auto | cpu | cuda | metal
	Threads     int    `toml:"threads"`
	GPULayers   int    `toml:"gpu_layers"`
	MemoryCheck bool   `toml:"memory_check"` // refuse a run whose memory plan exceeds the available memory
	ShareBase   string `toml:"share_base"`   // auto | yes | no: the learner trains over the sampler's loaded weights
	KVF16       bool   `toml:"kv_f16"`       // f16 KV caches with flash attention: half the memory, log-probs within ~1e-3
}

// DefaultConfig is the base every config file overrides.
func DefaultConfig() Config {
	c := Config{
		Seed: 1, Steps: 20, OutDir: "runs/atod",
		Teacher: TeacherConfig{API: "vllm", Timeout: 120, Retries: 3, Backoff: 2, Parallel: 8},
		LoRA:    model.LoRA{Rank: 8, Alpha: 16, Targets: []string{"q", "k", "v", "o"}},
		Env:     EnvConfig{Name: "household", Options: map[string]any{}},
		Rollout: RolloutConfig{TasksPerStep: 4, GroupSize: 4, MaxTurns: 8, History: "full", LastN: 2, ShowAdmissible: true, Context: 2048, InvalidPenalty: 0.1,
			EnvRetries: 2, EnvBackoff: 1, MaxFailedShare: 0.5},
		Sampling: SamplingConfig{Temperature: 1, TopP: 1, MaxTokens: 64},
		// T = 80 of 150 steps in the paper: 11 of the default 20.
		Schedule:   atod.Schedule{Lambda0: 0, Lambda1: 1, AnnealSteps: 11, Kappa: 5},
		TDUR:       atod.TDUR{Beta: 0.5, Tau: 1, WMin: 0.25, WMax: 4, Disagreement: "logratio", TopK: 8},
		OPD:        atod.OPD{Kappa: 1},
		GRPO:       atod.GRPO{StdNorm: true, Eps: 1e-6},
		Distill:    atod.Distill{Weight: 1, WeightEnd: 0.1, Ramp: atod.Ramp{Shape: "linear", AnnealSteps: 11, Kappa: 5}},
		Optim:      model.Optim{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, ClipNorm: 1, MinLRRatio: 0.1, MicroTokens: 4096, Recompute: true, KeepMLPMB: 1024},
		Eval:       EvalConfig{Every: 10, Tasks: 16, Split: "test", Teacher: true},
		Checkpoint: CheckpointConfig{Every: 5},
		Record:     RecordConfig{Episodes: 2, Eval: true},
		Backend:    BackendConfig{Device: "auto", GPULayers: -1, MemoryCheck: true, ShareBase: "auto"},
	}
	_ = applyMethod(&c, DefaultMethod)
	return c
}

// LoadConfig reads a TOML config over DefaultConfig and its method's preset
// (a method=NAME among sets replaces the file's), applies `key=value`
// overrides (dotted keys; the value is parsed as TOML, else taken as a string),
// resolves model paths relative to the file, and validates. Unknown keys and
// wrong types are errors naming the key.
func LoadConfig(path string, sets []string) (*Config, error) {
	cfg, err := ResolveConfig(path, sets)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return &cfg, nil
}

// ResolveConfig is LoadConfig without the validation, for callers that change
// the config first (atod eval needs only the model it plays).
func ResolveConfig(path string, sets []string) (Config, error) {
	method := ""
	var rest []string
	for _, s := range sets {
		if k, v, _ := strings.Cut(s, "="); strings.TrimSpace(k) == "method" {
			method = strings.Trim(strings.TrimSpace(v), `"'`)
		} else {
			rest = append(rest, s)
		}
	}
	cfg, err := readConfig(path, method)
	if err != nil {
		return cfg, err
	}
	sets = rest
	if err := cfg.Apply(sets); err != nil {
		return cfg, err
	}
	// Absolute paths keep the run's written config.toml valid from anywhere.
	dir := filepath.Dir(path)
	for _, p := range []*string{&cfg.Student.Model, &cfg.Teacher.Model} {
		if *p != "" && !filepath.IsAbs(*p) {
			if *p, err = filepath.Abs(filepath.Join(dir, *p)); err != nil {
				return cfg, err
			}
		}
	}
	return cfg, nil
}

// ReadConfig decodes the config file at path over the defaults and its
// method's preset, rejecting unknown keys, without resolving or validating it.
func ReadConfig(path string) (Config, error) { return readConfig(path, "") }

// readConfig is ReadConfig with the method, when not "", replacing the file's.
func readConfig(path, method string) (Config, error) {
	cfg := DefaultConfig()
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	if method == "" {
		if method, err = fileMethod(string(data)); err != nil {
			return cfg, fmt.Errorf("config %s: %w", path, err)
		}
	}
	if err := applyMethod(&cfg, method); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	if err := decodeStrict(string(data), &cfg); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	cfg.Method = method
	return cfg, nil
}

// fileMethod is the method a config file names; a file that names none but
// sets schedule.lambda0 or lambda1 without schedule.form was written for the
// convex form (every run directory from before the method key is), so it
// reads as atod-convex and resumes as it was started; any other, the default.
func fileMethod(doc string) (string, error) {
	var raw map[string]any
	if _, err := toml.Decode(doc, &raw); err != nil {
		return "", err
	}
	if m, ok := raw["method"]; ok {
		name, ok := m.(string)
		if !ok {
			return "", fmt.Errorf("key method: want a string, got %v", m)
		}
		return name, nil
	}
	if s, ok := raw["schedule"].(map[string]any); ok && s["form"] == nil && (s["lambda0"] != nil || s["lambda1"] != nil) {
		return "atod-convex", nil
	}
	return DefaultMethod, nil
}

// Apply applies `key=value` overrides in order, e.g. "schedule.shape=linear";
// "method=NAME" applies that preset over what is set so far.
func (c *Config) Apply(sets []string) error {
	for _, s := range sets {
		k, v, ok := strings.Cut(s, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return fmt.Errorf("--set %q: want key=value", s)
		}
		v = strings.TrimSpace(v)
		if k == "method" {
			if err := applyMethod(c, strings.Trim(v, `"'`)); err != nil {
				return fmt.Errorf("--set %s: %w", s, err)
			}
			continue
		}
		err := decodeStrict(k+" = "+v, c)
		if err != nil { // not a TOML value (or not one of the key's type): try it as a string
			err = decodeStrict(k+" = "+tomlString(v), c)
		}
		if err != nil {
			return fmt.Errorf("--set %s: %w", s, err)
		}
	}
	return nil
}

func tomlString(s string) string {
	var b bytes.Buffer
	_ = toml.NewEncoder(&b).Encode(map[string]string{"v": s})
	return strings.TrimSpace(strings.TrimPrefix(b.String(), "v = "))
}

// decodeStrict decodes TOML into c, rejecting keys that c has no field for and
// naming the key of a type mismatch.
func decodeStrict(doc string, c *Config) error {
	md, err := toml.Decode(doc, c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) && pe.LastKey != "" {
			return fmt.Errorf("key %s: %s", pe.LastKey, pe.Message)
		}
		return err
	}
	if u := md.Undecoded(); len(u) > 0 {
		keys := make([]string, len(u))
		for i, k := range u {
			keys[i] = k.String()
		}
		return fmt.Errorf("unknown key %s", strings.Join(keys, ", "))
	}
	return nil
}

// Encode writes the resolved config as TOML.
func (c *Config) Encode() ([]byte, error) {
	var b bytes.Buffer
	if err := toml.NewEncoder(&b).Encode(c); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// ResumeKeys are the keys a resumed run may change: they change how a run is
// kept, watched or computed (optim.recompute and optim.keep_mlp_mb give the same
// numbers to rounding; a remote teacher may move to another server), not what it
// computes. A name ending in ".*" is a whole table.
var ResumeKeys = []string{"steps", "out_dir", "eval.*", "checkpoint.*", "record.*", "backend.*", "optim.recompute", "optim.keep_mlp_mb",
	"teacher.url", "teacher.timeout", "teacher.retries", "teacher.backoff", "teacher.parallel", "teacher.piece_tokens"}

// Hash identifies the algorithmic part of a run: every key but ResumeKeys and
// method, a preset of keys the hash covers. Keys added with the method key are
// left out at the values that reproduce what came before (convex schedule,
// z-score T-DUR, per-token loss, levers off), so a run started before them
// hashes as it did and resumes.
func (c *Config) Hash() string {
	d := *c
	for _, k := range ResumeKeys {
		zeroKey(reflect.ValueOf(&d).Elem(), strings.TrimSuffix(k, ".*"))
	}
	d.Method = ""
	if c.Teacher.URL == "" { // a local teacher: the remote keys mean nothing (and runs before them hash as they did)
		d.Teacher.API = ""
	}
	if s := &d.Schedule; s.Form == "convex" {
		s.Form, s.KappaInit, s.KappaMin, s.RhoInit, s.RhoMax = "", 0, 0, 0, 0
	}
	if d.TDUR.Form == "zscore" {
		d.TDUR.Form = ""
	}
	if d.Loss.Aggregation == "token" {
		d.Loss.Aggregation = ""
	}
	if d.Distill.TopK == 0 { // off: its other keys mean nothing
		d.Distill = atod.Distill{}
	}
	b, _ := d.Encode()
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

// zeroKey sets the field that the dotted TOML key names in v, a struct, to its zero value.
func zeroKey(v reflect.Value, key string) {
	name, rest, nested := strings.Cut(key, ".")
	for i := range v.NumField() {
		if tag, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("toml"), ","); tag == name {
			if nested {
				zeroKey(v.Field(i), rest)
			} else {
				v.Field(i).SetZero()
			}
			return
		}
	}
	panic("config has no key " + key)
}

// Validate checks every key `atod run` uses: ranges, and that both model files exist.
func (c *Config) Validate() error {
	return c.validate("run", "student", "teacher", "lora", "optim", "schedule", "tdur", "opd", "grpo", "distill", "eval", "checkpoint")
}

// EvalSeed is the seed of the held-out task draw: eval.seed, or the run's seed.
// A fixed eval.seed gives every seed of a sweep the same tasks (paired comparisons).
func (c *Config) EvalSeed() int64 {
	if c.Eval.Seed != 0 {
		return c.Eval.Seed
	}
	return c.Seed
}

// ValidateEval checks what `atod eval` uses to play who ("student" or "teacher").
func (c *Config) ValidateEval(who string) error {
	if who != "student" && who != "teacher" {
		return fmt.Errorf("model %q: want student or teacher", who)
	}
	if who == "teacher" && c.Teacher.URL != "" {
		return fmt.Errorf("teacher.url: a remote teacher only scores; playing episodes with it needs a local teacher.model")
	}
	return c.validate(who, "eval")
}

// ValidateSFT checks what `atod sft` uses: the student it trains and the learner.
func (c *Config) ValidateSFT() error { return c.validate("student", "lora", "optim") }

// validate checks the keys every command uses (env, rollout, sampling,
// backend) and those of the named sections.
func (c *Config) validate(sections ...string) error {
	want := map[string]bool{"": true}
	for _, s := range sections {
		want[s] = true
	}
	r := c.Rollout
	checks := []struct {
		section string
		bad     bool
		msg     string
	}{
		{"run", c.Steps < 0, fmt.Sprintf("steps = %d: want ≥ 0", c.Steps)},
		{"run", c.OutDir == "", "out_dir is empty"},
		{"student", c.Student.Model == "", "student.model is empty"},
		{"teacher", c.Teacher.Model == "" && c.Teacher.URL == "", "teacher.model and teacher.url are empty: set one"},
		{"teacher", c.Teacher.Model != "" && c.Teacher.URL != "", "teacher.model and teacher.url are both set: a teacher is a local GGUF or a server, not both"},
		{"teacher", c.Teacher.URL != "" && !slices.Contains([]string{scoring.VLLM, scoring.SGLang, scoring.Atod}, c.Teacher.API), fmt.Sprintf("teacher.api = %q: want vllm, sglang or atod", c.Teacher.API)},
		{"teacher", c.Teacher.URL != "" && !(c.Teacher.Timeout > 0 && c.Teacher.Backoff >= 0 && c.Teacher.Retries >= 0), "teacher.timeout: want > 0; teacher.backoff and teacher.retries: want ≥ 0"},
		{"teacher", c.Teacher.URL != "" && (c.Teacher.Parallel < 1 || c.Teacher.PieceTokens < 0), "teacher.parallel: want ≥ 1; teacher.piece_tokens: want ≥ 0"},
		{"eval", c.Teacher.URL != "" && c.Eval.Teacher && c.Eval.Tasks > 0, "eval.teacher = true plays held-out episodes with the teacher, which a remote teacher (teacher.url) cannot: it only scores; set eval.teacher = false"},
		{"lora", !c.LoRA.FullWeights && c.LoRA.Rank < 1, fmt.Sprintf("lora.rank = %d: want ≥ 1", c.LoRA.Rank)},
		{"lora", !c.LoRA.FullWeights && !(c.LoRA.Alpha > 0), fmt.Sprintf("lora.alpha = %v: want > 0", c.LoRA.Alpha)},
		{"lora", !c.LoRA.FullWeights && len(c.LoRA.Targets) == 0, "lora.targets is empty"},
		{"", c.Env.Name == "", "env.name is empty"},
		{"", r.TasksPerStep < 1, fmt.Sprintf("rollout.tasks_per_step = %d: want ≥ 1", r.TasksPerStep)},
		{"", r.GroupSize < 1, fmt.Sprintf("rollout.group_size = %d: want ≥ 1", r.GroupSize)},
		{"schedule", r.GroupSize < 2 && c.Schedule.MaxRho() > 0, fmt.Sprintf("rollout.group_size = %d: GRPO (ρ can reach %v > 0) needs groups of ≥ 2", r.GroupSize, c.Schedule.MaxRho())},
		{"", r.MaxTurns < 1, fmt.Sprintf("rollout.max_turns = %d: want ≥ 1", r.MaxTurns)},
		{"", r.History != "full" && r.History != "last", fmt.Sprintf("rollout.history = %q: want full or last", r.History)},
		{"", r.History == "last" && r.LastN < 0, fmt.Sprintf("rollout.last_n = %d: want ≥ 0", r.LastN)},
		{"", r.Context < 64, fmt.Sprintf("rollout.context = %d: want ≥ 64 tokens", r.Context)},
		{"", !(r.InvalidPenalty >= 0), fmt.Sprintf("rollout.invalid_penalty = %v: want ≥ 0", r.InvalidPenalty)},
		{"", r.EnvRetries < 0, fmt.Sprintf("rollout.env_retries = %d: want ≥ 0", r.EnvRetries)},
		{"", !(r.EnvBackoff >= 0 && r.EnvBackoff <= 600), fmt.Sprintf("rollout.env_backoff = %v: want 0..600 seconds", r.EnvBackoff)},
		{"", !(r.MaxFailedShare >= 0 && r.MaxFailedShare <= 1), fmt.Sprintf("rollout.max_failed_share = %v: want [0, 1]", r.MaxFailedShare)},
		{"", !(c.Sampling.Temperature >= 0), fmt.Sprintf("sampling.temperature = %v: want ≥ 0", c.Sampling.Temperature)},
		{"", !(c.Sampling.TopP >= 0 && c.Sampling.TopP <= 1), fmt.Sprintf("sampling.top_p = %v: want [0, 1]", c.Sampling.TopP)},
		{"", c.Sampling.TopK < 0, fmt.Sprintf("sampling.top_k = %d: want ≥ 0", c.Sampling.TopK)},
		{"", c.Sampling.MaxTokens < 1 || c.Sampling.MaxTokens >= r.Context, fmt.Sprintf("sampling.max_tokens = %d: want 1..rollout.context-1", c.Sampling.MaxTokens)},
		{"opd", !(c.OPD.Kappa >= 0), fmt.Sprintf("opd.kappa = %v: want ≥ 0", c.OPD.Kappa)},
		{"opd", !(c.OPD.Clip >= 0), fmt.Sprintf("opd.clip = %v: want ≥ 0 (0 = unclipped)", c.OPD.Clip)},
		{"opd", c.Loss.Aggregation != "sequence" && c.Loss.Aggregation != "token", fmt.Sprintf("loss.aggregation = %q: want sequence or token", c.Loss.Aggregation)},
		{"opd", !(c.Loss.TISCap >= 0) || math.IsInf(c.Loss.TISCap, 0), fmt.Sprintf("loss.tis_cap = %v: want ≥ 0 (0 = off)", c.Loss.TISCap)},
		{"grpo", !(c.GRPO.Eps >= 0), fmt.Sprintf("grpo.eps = %v: want ≥ 0", c.GRPO.Eps)},
		{"distill", c.Distill.TopK < 0 || c.Distill.TopK > MaxDistillTopK, fmt.Sprintf("distill.topk = %d: want 0 (off) .. %d", c.Distill.TopK, MaxDistillTopK)},
		{"distill", !(c.Distill.Weight >= 0 && c.Distill.WeightEnd >= 0) || math.IsInf(c.Distill.Weight+c.Distill.WeightEnd, 0),
			fmt.Sprintf("distill.weight = %v, distill.weight_end = %v: want ≥ 0", c.Distill.Weight, c.Distill.WeightEnd)},
		{"optim", !(c.Optim.LR > 0), fmt.Sprintf("optim.lr = %v: want > 0", c.Optim.LR)},
		{"optim", !(c.Optim.Beta1 >= 0 && c.Optim.Beta1 < 1 && c.Optim.Beta2 >= 0 && c.Optim.Beta2 < 1), "optim.beta1/beta2: want [0, 1)"},
		{"optim", !(c.Optim.Eps > 0), fmt.Sprintf("optim.eps = %v: want > 0", c.Optim.Eps)},
		{"optim", !(c.Optim.WeightDecay >= 0 && c.Optim.ClipNorm >= 0), "optim.weight_decay and optim.clip_norm: want ≥ 0"},
		{"optim", !(c.Optim.MinLRRatio >= 0 && c.Optim.MinLRRatio <= 1), fmt.Sprintf("optim.min_lr_ratio = %v: want [0, 1]", c.Optim.MinLRRatio)},
		{"optim", c.Optim.Warmup < 0, fmt.Sprintf("optim.warmup = %d: want ≥ 0", c.Optim.Warmup)},
		{"optim", c.Optim.MicroTokens < 16, fmt.Sprintf("optim.micro_tokens = %d: want ≥ 16", c.Optim.MicroTokens)},
		{"optim", c.Optim.KeepMLPMB < 0, fmt.Sprintf("optim.keep_mlp_mb = %d: want ≥ 0", c.Optim.KeepMLPMB)},
		{"eval", c.Eval.Every < 0 || c.Eval.Tasks < 0, "eval.every and eval.tasks: want ≥ 0"},
		{"eval", c.Eval.Tasks > 0 && c.Eval.Split == "", "eval.split is empty"},
		{"eval", !(c.Eval.Temperature >= 0), fmt.Sprintf("eval.temperature = %v: want ≥ 0", c.Eval.Temperature)},
		{"eval", !(c.Eval.SampledTemperature >= 0) || math.IsInf(c.Eval.SampledTemperature, 0), fmt.Sprintf("eval.sampled_temperature = %v: want ≥ 0 (0 = off)", c.Eval.SampledTemperature)},
		// A run only: atod eval plays eval.temperature alone, whatever this says.
		{"run", c.Eval.SampledTemperature > 0 && c.Eval.SampledTemperature == c.Eval.Temperature,
			fmt.Sprintf("eval.sampled_temperature = eval.temperature = %v: the second evaluation would repeat the first; set it to 0 (off) or another temperature", c.Eval.Temperature)},
		{"checkpoint", c.Checkpoint.Every < 0, fmt.Sprintf("checkpoint.every = %d: want ≥ 0", c.Checkpoint.Every)},
		{"run", c.Record.Episodes < 0, fmt.Sprintf("record.episodes = %d: want ≥ 0", c.Record.Episodes)},
		{"", c.Backend.Threads < 0, fmt.Sprintf("backend.threads = %d: want ≥ 0", c.Backend.Threads)},
		{"", !slices.Contains([]string{"auto", "yes", "no"}, c.Backend.ShareBase), fmt.Sprintf("backend.share_base = %q: want auto, yes or no", c.Backend.ShareBase)},
	}
	for _, ck := range checks {
		if want[ck.section] && ck.bad {
			return errors.New(ck.msg)
		}
	}
	if want["lora"] {
		if err := model.CheckTargets(c.LoRA.Targets); err != nil {
			return fmt.Errorf("lora.targets: %w", err)
		}
	}
	if err := model.CheckBackend(c.Backend.Device); err != nil {
		return fmt.Errorf("backend.device = %w", err)
	}
	if want["schedule"] {
		if err := c.Schedule.Validate(); err != nil {
			return err
		}
	}
	if want["tdur"] {
		if err := c.TDUR.Validate(); err != nil {
			return err
		}
	}
	if want["distill"] && c.Distill.TopK > 0 {
		if err := c.Distill.Ramp.Validate("distill"); err != nil {
			return err
		}
	}
	for _, m := range []struct{ key, path string }{{"student", c.Student.Model}, {"teacher", c.Teacher.Model}} {
		if !want[m.key] || m.key == "teacher" && c.Teacher.URL != "" {
			continue
		}
		if st, err := os.Stat(m.path); err != nil {
			return fmt.Errorf("%s.model: %w", m.key, err)
		} else if st.IsDir() {
			return fmt.Errorf("%s.model: %s is a directory", m.key, m.path)
		}
	}
	return nil
}

// MaxDistillTopK bounds distill.topk. (vLLM serves lists of at most 20 unless
// started with a larger --max-logprobs: a remote teacher is checked at start.)
const MaxDistillTopK = 64

// ScoreTopK is how many of the teacher's most likely tokens each scored
// position needs: T-DUR's top-k disagreement (zscore form only: the paper's
// uses the sampled tokens') compares the teacher's lists with the student's, the
// distillation term keeps the teacher's.
func (c *Config) ScoreTopK() rollout.TopK {
	var k rollout.TopK
	if c.TDUR.Enabled && c.TDUR.Form == "zscore" && c.TDUR.Disagreement == "topk_kl" {
		k.KL = c.TDUR.TopK
	}
	k.Distill = c.Distill.TopK
	return k
}

// TeacherTopK is the longest top-k list the teacher serves (ScoreTopK's larger).
func (c *Config) TeacherTopK() int { return c.ScoreTopK().Teacher() }

// TeacherClient is how to reach teacher.url, scoring waves of nseq sequences.
func (c *Config) TeacherClient(nseq int) scoring.Config {
	t := c.Teacher
	return scoring.Config{URL: t.URL, API: t.API, Key: os.Getenv(scoring.KeyEnv), Timeout: seconds(t.Timeout), Retries: t.Retries,
		Backoff: seconds(t.Backoff), Parallel: t.Parallel, PieceTokens: t.PieceTokens, NSeq: nseq, NCtx: c.Rollout.Context}
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// Prompt is how the rollout keys render transcripts; sft renders its demos the same way.
func (c *Config) Prompt() envs.PromptConfig {
	r := c.Rollout
	return envs.PromptConfig{History: r.History, LastN: r.LastN, Think: r.Think, ShowAdmissible: r.ShowAdmissible}
}

// spec is how episodes are played at the given temperature with the given seeds.
func (c *Config) spec(temperature float64, seed func(task, rollout, turn int) uint64) rollout.Spec {
	return rollout.Spec{
		Prompt:   c.Prompt(),
		Sampling: model.Sampling{Temperature: float32(temperature), TopP: float32(c.Sampling.TopP), TopK: c.Sampling.TopK, MaxTokens: c.Sampling.MaxTokens},
		MaxTurns: c.Rollout.MaxTurns,
		Seed:     seed,
		Retries:  c.Rollout.EnvRetries,
		Backoff:  time.Duration(c.Rollout.EnvBackoff * float64(time.Second)),
	}
}

// EvalSpec plays held-out tasks at the given temperature (0 = greedy). Its
// seeds depend only on (seed, task, turn), so every evaluation of a run,
// student or teacher, sees the same draws.
func (c *Config) EvalSpec(temperature float64) rollout.Spec {
	return c.spec(temperature, func(task, _, turn int) uint64 {
		return rollout.DeriveSeed(c.Seed, -1, int64(task), 0, int64(turn))
	})
}
