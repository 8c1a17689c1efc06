package trainer

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
	Seed   int64  `toml:"seed"`
	Steps  int    `toml:"steps"`
	OutDir string `toml:"out_dir"`

	Student    ModelConfig      `toml:"student"`
	Teacher    TeacherConfig    `toml:"teacher"`
	LoRA       LoRAConfig       `toml:"lora"`
	Env        EnvConfig        `toml:"env"`
	Rollout    RolloutConfig    `toml:"rollout"`
	Sampling   SamplingConfig   `toml:"sampling"`
	Schedule   atod.Schedule    `toml:"schedule"`
	TDUR       atod.TDUR        `toml:"tdur"`
	OPD        OPDConfig        `toml:"opd"`
	GRPO       GRPOConfig       `toml:"grpo"`
	Optim      OptimConfig      `toml:"optim"`
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
	URL         string  `toml:"url"`
	API         string  `toml:"api"`          // vllm | sglang | atod
	Timeout     float64 `toml:"timeout"`      // seconds per request
	Retries     int     `toml:"retries"`      // further tries of a request the server failed or let time out
	Backoff     float64 `toml:"backoff"`      // seconds before the first retry, doubled each time
	Parallel    int     `toml:"parallel"`     // requests in flight
	PieceTokens int     `toml:"piece_tokens"` // positions scored per request at most; 0 = whole transcripts
}

type LoRAConfig struct {
	Rank        int      `toml:"rank"`
	Alpha       float64  `toml:"alpha"`
	Targets     []string `toml:"targets"`
	FullWeights bool     `toml:"full_weights"`
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

type OPDConfig struct {
	Kappa float64 `toml:"kappa"` // κ_opd
	Clip  float64 `toml:"clip"`  // c
}

type GRPOConfig struct {
	StdNorm bool    `toml:"std_norm"`
	Eps     float64 `toml:"eps"`
}

type OptimConfig struct {
	LR          float64 `toml:"lr"`
	Beta1       float64 `toml:"beta1"`
	Beta2       float64 `toml:"beta2"`
	Eps         float64 `toml:"eps"`
	WeightDecay float64 `toml:"weight_decay"`
	ClipNorm    float64 `toml:"clip_norm"`
	Warmup      int     `toml:"warmup"`
	MinLRRatio  float64 `toml:"min_lr_ratio"`
	MicroTokens int     `toml:"micro_tokens"` // tokens per micro-batch, padding included
	Recompute   bool    `toml:"recompute"`    // activation checkpointing: memory linear in tokens, ~1.3× the step's compute
	KeepMLPMB   int     `toml:"keep_mlp_mb"`  // recompute: MiB for MLP activations kept from the forward, which the backward then skips
}

type EvalConfig struct {
	Every       int     `toml:"every"` // steps; 0 = only at step 0 and the end
	Tasks       int     `toml:"tasks"`
	Split       string  `toml:"split"`
	Temperature float64 `toml:"temperature"`
	Teacher     bool    `toml:"teacher"`
	Seed        int64   `toml:"seed"` // draws the held-out tasks; 0 = the run's seed
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
	return Config{
		Seed: 1, Steps: 20, OutDir: "runs/atod",
		Teacher: TeacherConfig{API: "vllm", Timeout: 120, Retries: 3, Backoff: 2, Parallel: 8},
		LoRA:    LoRAConfig{Rank: 8, Alpha: 16, Targets: []string{"q", "k", "v", "o"}},
		Env:     EnvConfig{Name: "household", Options: map[string]any{}},
		Rollout: RolloutConfig{TasksPerStep: 4, GroupSize: 4, MaxTurns: 8, History: "full", LastN: 2, ShowAdmissible: true, Context: 2048, InvalidPenalty: 0.1,
			EnvRetries: 2, EnvBackoff: 1, MaxFailedShare: 0.5},
		Sampling:   SamplingConfig{Temperature: 1, TopP: 1, MaxTokens: 64},
		Schedule:   atod.Schedule{Shape: "cosine", Lambda0: 0, Lambda1: 1, AnnealSteps: 20, Kappa: 5},
		TDUR:       atod.TDUR{Enabled: true, Beta: 0.5, Tau: 1, WMin: 0.25, WMax: 4, Disagreement: "logratio", TopK: 8},
		OPD:        OPDConfig{Kappa: 1, Clip: 5},
		GRPO:       GRPOConfig{StdNorm: true, Eps: 1e-6},
		Optim:      OptimConfig{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, ClipNorm: 1, MinLRRatio: 0.1, MicroTokens: 4096, Recompute: true, KeepMLPMB: 1024},
		Eval:       EvalConfig{Every: 10, Tasks: 16, Split: "test", Teacher: true},
		Checkpoint: CheckpointConfig{Every: 5},
		Record:     RecordConfig{Episodes: 2, Eval: true},
		Backend:    BackendConfig{Device: "auto", GPULayers: -1, MemoryCheck: true, ShareBase: "auto"},
	}
}

// LoadConfig reads a TOML config over DefaultConfig, applies `key=value`
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
	cfg, err := ReadConfig(path)
	if err != nil {
		return cfg, err
	}
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

// ReadConfig decodes the config file at path over the defaults, rejecting
// unknown keys, without resolving or validating it.
func ReadConfig(path string) (Config, error) {
	cfg := DefaultConfig()
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	if err := decodeStrict(string(data), &cfg); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// Apply applies `key=value` overrides, e.g. "schedule.shape=linear".
func (c *Config) Apply(sets []string) error {
	for _, s := range sets {
		k, v, ok := strings.Cut(s, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return fmt.Errorf("--set %q: want key=value", s)
		}
		v = strings.TrimSpace(v)
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

// Hash identifies the algorithmic part of a run: everything but steps, out_dir,
// eval, checkpoint cadence, recording, backend, optim.recompute and
// optim.keep_mlp_mb, which a resumed run may change.
func (c *Config) Hash() string {
	d := *c
	d.Steps, d.OutDir, d.Eval, d.Checkpoint, d.Backend, d.Record = 0, "", EvalConfig{}, CheckpointConfig{}, BackendConfig{}, RecordConfig{}
	d.Optim.Recompute, d.Optim.KeepMLPMB = false, 0 // the same numbers either way (to rounding)
	// How a remote teacher is reached changes no number: the server may move.
	d.Teacher = TeacherConfig{Model: c.Teacher.Model, API: c.Teacher.API}
	b, _ := d.Encode()
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

// Method names the baseline a config is: "opd" (λ ≡ 0, T-DUR off), "grpo"
// (λ ≡ 1), "atod-no-tdur", or "atod".
func (c *Config) Method() string {
	s := c.Schedule
	switch {
	case s.MaxLambda() == 0 && !c.TDUR.Enabled:
		return "opd"
	case s.Shape == "constant" && s.Lambda0 == 1 || s.Lambda0 == 1 && s.Lambda1 == 1:
		return "grpo"
	case !c.TDUR.Enabled:
		return "atod-no-tdur"
	}
	return "atod"
}

// Lambda is λ(step).
func (c *Config) Lambda(step int) float64 { return c.Schedule.Lambda(step) }

// Validate checks every key `atod run` uses: ranges, and that both model files exist.
func (c *Config) Validate() error {
	return c.validate("run", "student", "teacher", "lora", "optim", "schedule", "tdur", "opd", "grpo", "eval", "checkpoint")
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
		{"schedule", r.GroupSize < 2 && c.Schedule.MaxLambda() > 0, fmt.Sprintf("rollout.group_size = %d: GRPO (λ can reach %v > 0) needs groups of ≥ 2", r.GroupSize, c.Schedule.MaxLambda())},
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
		{"opd", !(c.OPD.Clip > 0), fmt.Sprintf("opd.clip = %v: want > 0", c.OPD.Clip)},
		{"grpo", !(c.GRPO.Eps >= 0), fmt.Sprintf("grpo.eps = %v: want ≥ 0", c.GRPO.Eps)},
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
	for _, t := range c.LoRA.Targets {
		if !want["lora"] {
			break
		}
		if !strings.Contains(" q k v o gate up down ", " "+t+" ") {
			return fmt.Errorf("lora.targets: %q is not one of q, k, v, o, gate, up, down", t)
		}
	}
	switch c.Backend.Device {
	case "auto", "cpu", "cuda", "metal":
	default:
		return fmt.Errorf("backend.device = %q: want auto, cpu, cuda or metal", c.Backend.Device)
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

// TeacherTopK is how many of the teacher's most likely tokens each scored
// position needs: T-DUR's top-k disagreement compares lists; 0 otherwise.
func (c *Config) TeacherTopK() int {
	if c.TDUR.Enabled && c.TDUR.Disagreement == "topk_kl" {
		return c.TDUR.TopK
	}
	return 0
}

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
