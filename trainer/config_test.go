package trainer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeConfig writes a config with two (empty) model files next to it.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	for _, m := range []string{"s.gguf", "t.gguf"} {
		if err := os.WriteFile(filepath.Join(dir, m), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, "run.toml")
	head := "[student]\nmodel = \"s.gguf\"\n[teacher]\nmodel = \"t.gguf\"\n"
	if err := os.WriteFile(p, []byte(body+head), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadConfigOverridesAndSets(t *testing.T) {
	p := writeConfig(t, "seed = 7\n[schedule]\nshape = \"exp\"\nkappa = 3.0\n[env.options]\nrooms = 3\n")
	c, err := LoadConfig(p, []string{"rollout.group_size=6", "schedule.shape=linear", "lora.targets=[\"q\",\"v\"]", "env.options.layout=\"small\"", "out_dir=runs/x y"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Seed != 7 || c.Schedule.Kappa != 3 || c.Rollout.GroupSize != 6 || c.Schedule.Shape != "linear" {
		t.Errorf("got seed %d κ %v G %d shape %s", c.Seed, c.Schedule.Kappa, c.Rollout.GroupSize, c.Schedule.Shape)
	}
	if strings.Join(c.LoRA.Targets, ",") != "q,v" || c.OutDir != "runs/x y" {
		t.Errorf("targets %v out_dir %q", c.LoRA.Targets, c.OutDir)
	}
	if c.Env.Options["rooms"] != int64(3) || c.Env.Options["layout"] != "small" {
		t.Errorf("env options %v", c.Env.Options)
	}
	if c.Student.Model != filepath.Join(filepath.Dir(p), "s.gguf") {
		t.Errorf("student path %q not resolved against the config dir", c.Student.Model)
	}
	if c.TDUR.Beta != DefaultConfig().TDUR.Beta {
		t.Error("unset keys must keep their defaults")
	}
	// The resolved config round-trips through its own encoding.
	b, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	var d Config
	if err := decodeStrict(string(b), &d); err != nil {
		t.Fatal(err)
	}
	if d.Hash() != c.Hash() {
		t.Error("hash changed across encode/decode")
	}
	d.Steps = 99
	if d.Hash() != c.Hash() {
		t.Error("steps must not change the hash")
	}
	d.OPD.Clip = 1
	if d.Hash() == c.Hash() {
		t.Error("opd.clip must change the hash")
	}
}

func TestBadConfigsFailFastNamingTheKey(t *testing.T) {
	cases := []struct {
		body string
		sets []string
		want string
	}{
		{"[tdur]\nbeta_typo = 0.3\n", nil, "unknown key tdur.beta_typo"},
		{"[rollout]\ngroup_size = \"four\"\n", nil, "rollout.group_size"},
		{"", []string{"rollout.group_size=four"}, "rollout.group_size"},
		{"", []string{"optim.nope=1"}, "unknown key optim.nope"},
		{"", []string{"noequals"}, "want key=value"},
		{"", []string{"teacher.model=missing.gguf"}, "teacher.model"},
		{"", []string{"rollout.group_size=1"}, "needs groups of ≥ 2"},
		{"", []string{"schedule.shape=wavy"}, "schedule.shape"},
		{"", []string{"distill.topk=-1"}, "distill.topk"},
		{"", []string{"distill.topk=4", "distill.weight=-1"}, "distill.weight"},
		{"", []string{"distill.topk=4", "distill.shape=wavy"}, "distill.shape"},
		{"", []string{"tdur.form=zscore", "tdur.w_min=2"}, "tdur.w_min"},
		{"", []string{"tdur.form=softor"}, "tdur.form"},
		{"", []string{"method=ppo"}, "method = \"ppo\": want one of atod, opd, grpo, atod-no-tdur, atod-no-anneal, atod-convex"},
		{"method = \"sft\"\n", nil, "method = \"sft\""},
		{"", []string{"loss.aggregation=mean"}, "loss.aggregation"},
		{"", []string{"schedule.kappa_min=-1"}, "schedule.kappa_min"},
		{"", []string{"backend.device=tpu"}, "backend.device"},
		{"", []string{"eval.sampled_temperature=-0.4"}, "eval.sampled_temperature = -0.4: want ≥ 0"},
		{"", []string{"eval.sampled_temperature=0.4", "eval.temperature=0.4"}, "eval.sampled_temperature = eval.temperature = 0.4"},
	}
	for _, c := range cases {
		p := writeConfig(t, c.body)
		start := time.Now()
		_, err := LoadConfig(p, c.sets)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q %v: err = %v, want it to mention %q", c.body, c.sets, err, c.want)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("took %v", d)
		}
	}
	// G = 1 is fine for pure OPD.
	p := writeConfig(t, "")
	if _, err := LoadConfig(p, []string{"rollout.group_size=1", "method=opd"}); err != nil {
		t.Errorf("pure OPD with G = 1: %v", err)
	}
}

// ResolveConfig applies the sets and resolves the paths but checks nothing:
// a missing teacher file is LoadConfig's error, not its.
func TestResolveConfigDoesNotValidate(t *testing.T) {
	p := writeConfig(t, "")
	sets := []string{"teacher.model=missing.gguf", "seed=9"}
	c, err := ResolveConfig(p, sets)
	if err != nil {
		t.Fatal(err)
	}
	if c.Seed != 9 || c.Teacher.Model != filepath.Join(filepath.Dir(p), "missing.gguf") {
		t.Errorf("seed %d, teacher %q: want 9 and the path resolved against the config dir", c.Seed, c.Teacher.Model)
	}
	if _, err := LoadConfig(p, sets); err == nil || !strings.Contains(err.Error(), "teacher.model") {
		t.Errorf("LoadConfig: err = %v, want the missing teacher", err)
	}
	// Each command checks only what it uses: eval the model it plays, sft the student and learner.
	if err := c.ValidateEval("student"); err != nil {
		t.Errorf("eval of the student alone: %v", err)
	}
	if err := c.ValidateEval("teacher"); err == nil || !strings.Contains(err.Error(), "teacher.model") {
		t.Errorf("eval of the missing teacher: err = %v", err)
	}
	if err := c.ValidateSFT(); err != nil {
		t.Errorf("sft needs no teacher: %v", err)
	}
	c.Optim.LR, c.Eval.Temperature = 0, -1
	if err := c.ValidateSFT(); err == nil || !strings.Contains(err.Error(), "optim.lr") {
		t.Errorf("sft with optim.lr = 0: err = %v", err)
	}
	if err := c.ValidateEval("student"); err == nil || !strings.Contains(err.Error(), "eval.temperature") {
		t.Errorf("eval with eval.temperature = -1: err = %v", err)
	}
}

// The shipped configs parse, validate and run ATOD on their env's tiny models.
func TestShippedConfigs(t *testing.T) {
	for p, env := range map[string]string{"../config.toml": "household", "../configs/webshop.toml": "webshop", "../configs/searchqa.toml": "searchqa"} {
		c, err := ReadConfig(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if !strings.HasSuffix(c.Student.Model, "models/"+env+"-student.gguf") || !strings.HasSuffix(c.Teacher.Model, "models/"+env+"-teacher.gguf") {
			t.Errorf("%s: models %s %s", p, c.Student.Model, c.Teacher.Model)
		}
		m := writeConfig(t, "") // stand-in model files: models/ is built separately
		c.Student.Model, c.Teacher.Model = filepath.Join(filepath.Dir(m), "s.gguf"), filepath.Join(filepath.Dir(m), "t.gguf")
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		// The paper's ATOD: κ 1 → 0.1, ρ 1 → 2, soft-OR T-DUR, per-sequence loss, G = 8.
		k0, r0 := c.Schedule.Coefficients(0)
		k1, r1 := c.Schedule.Coefficients(c.Schedule.AnnealSteps)
		if c.Method != "atod" || c.Env.Name != env || c.Backend.Device != "cpu" || !c.TDUR.Enabled || c.TDUR.Form != "paper" ||
			k0 != 1 || r0 != 1 || !near(k1, 0.1, 1e-12) || r1 != 2 || c.Loss.Aggregation != "sequence" || c.OPD.Clip != 0 || c.Rollout.GroupSize != 8 {
			t.Errorf("%s: %+v", p, c)
		}
	}
}

// Each key of ResumeKeys leaves the hash alone (so a resumed run may change
// it); each key outside it changes the hash.
func TestResumeKeysAndHash(t *testing.T) {
	base := DefaultConfig()
	for _, c := range []struct {
		set     string
		resumes bool
	}{
		{"steps=99", true}, {"out_dir=elsewhere", true}, {"eval.tasks=3", true}, {"eval.sampled_temperature=0.4", true}, {"checkpoint.every=1", true},
		{"record.episodes=9", true}, {"backend.threads=3", true}, {"optim.recompute=false", true}, {"optim.keep_mlp_mb=7", true},
		{"optim.lr=0.5", false}, {"optim.micro_tokens=64", false}, {"lora.rank=3", false}, {"seed=2", false},
		{"distill.topk=4", false}, {"distill.weight=3", true}, // the term off, its weight means nothing
	} {
		d := DefaultConfig()
		if err := d.Apply([]string{c.set}); err != nil {
			t.Fatal(err)
		}
		if same := d.Hash() == base.Hash(); same != c.resumes {
			t.Errorf("%s: hash unchanged %v, want %v", c.set, same, c.resumes)
		}
	}
}

// A run directory from before the method key: its config.toml (written by that
// version, with the hash it checkpointed) names no method and sets the convex
// schedule's keys. It reads as atod-convex, computes what it computed then, and
// hashes as it did, so --resume accepts it; so does the config a resumed run
// writes back.
func TestLegacyRunConfigResumes(t *testing.T) {
	const oldHash = "2f4de2f5f5b7635c" // Hash() of testdata/legacy-config.toml before the method key
	c, err := ReadConfig("testdata/legacy-config.toml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Method != "atod-convex" || c.Schedule.Form != "convex" || c.TDUR.Form != "zscore" || c.Loss.Aggregation != "token" || c.OPD.Clip != 5 {
		t.Errorf("legacy config read as %s: schedule %+v, tdur %+v, loss %+v, clip %v", c.Method, c.Schedule, c.TDUR, c.Loss, c.OPD.Clip)
	}
	// cosine λ 0 → 1 with warmup 3 over 12 steps: step 9 is x = 0.5, λ = 0.5.
	for _, s := range []struct {
		step int
		rho  float64
	}{{3, 0}, {9, 0.5}, {15, 1}} {
		if k, r := c.Schedule.Coefficients(s.step); !near(r, s.rho, 1e-12) || !near(k, 1-s.rho, 1e-12) {
			t.Errorf("step %d: κ, ρ = %v, %v, want λ = %v", s.step, k, r, s.rho)
		}
	}
	if h := c.Hash(); h != oldHash {
		t.Errorf("hash %s, want the checkpoint's %s", h, oldHash)
	}
	b, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	back, err := ReadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	if back.Method != "atod-convex" || back.Hash() != oldHash {
		t.Errorf("rewritten config: method %s hash %s", back.Method, back.Hash())
	}
}

// A preset sits under the file, and explicit keys override it; --method (a
// method=NAME set) replaces the file's method; a set method=NAME applies the
// preset over what is set before it.
func TestMethodPresets(t *testing.T) {
	p := writeConfig(t, "method = \"atod\"\n[schedule]\nkappa_min = 0.3\n")
	c, err := LoadConfig(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if k, r := c.Schedule.Coefficients(c.Schedule.AnnealSteps); c.Method != "atod" || !near(k, 0.3, 1e-12) || r != 2 {
		t.Errorf("atod with kappa_min = 0.3: %s κ, ρ at T = %v, %v", c.Method, k, r)
	}
	want := map[string]struct {
		k0, r0, kT, rT float64
		tdur           bool
	}{
		"atod":           {1, 1, 0.3, 2, true}, // the file's kappa_min
		"opd":            {1, 0, 1, 0, false},
		"grpo":           {0, 1, 0, 2, false},
		"atod-no-tdur":   {1, 1, 0.3, 2, false},
		"atod-no-anneal": {1, 1, 1, 1, true},
		"atod-convex":    {1, 0, 0, 1, true},
	}
	for _, m := range Methods {
		c, err := LoadConfig(p, []string{"method=" + m})
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		w := want[m]
		k0, r0 := c.Schedule.Coefficients(0)
		kT, rT := c.Schedule.Coefficients(c.Schedule.Warmup + c.Schedule.AnnealSteps)
		if m == "opd" || m == "grpo" || m == "atod-no-anneal" || m == "atod-convex" {
			// the file's kappa_min is the coefficients form's κ_1; opd fixes κ, grpo zeroes it
			if m == "grpo" {
				w.kT = 0.3
			}
		}
		if c.Method != m || !near(k0, w.k0, 1e-12) || !near(r0, w.r0, 1e-12) || !near(kT, w.kT, 1e-12) || !near(rT, w.rT, 1e-12) || c.TDUR.Enabled != w.tdur {
			t.Errorf("%s: κ %v → %v, ρ %v → %v, T-DUR %v; want %+v", m, k0, kT, r0, rT, c.TDUR.Enabled, w)
		}
	}
	// Apply takes a method in order: over the sets before it, under those after it.
	if err := c.Apply([]string{"tdur.enabled=false", "method=atod", "schedule.rho_max=3"}); err != nil {
		t.Fatal(err)
	}
	if _, r := c.Schedule.Coefficients(100); !c.TDUR.Enabled || r != 3 {
		t.Errorf("sets in order: T-DUR %v, ρ_max %v", c.TDUR.Enabled, r)
	}
}

// The paper's T-DUR reads only the sampled tokens' log-probs: tdur.disagreement = "topk_kl"
// must not make the run score top-k lists it never uses.
func TestScoreTopKOnlyWhereUsed(t *testing.T) {
	p := writeConfig(t, "[tdur]\ndisagreement = \"topk_kl\"\ntopk = 5\n")
	for method, want := range map[string]int{"atod": 0, "atod-convex": 5, "opd": 0} {
		c, err := LoadConfig(p, []string{"method=" + method})
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		if got := c.ScoreTopK().KL; got != want {
			t.Errorf("%s: ScoreTopK().KL = %d, want %d", method, got, want)
		}
	}
	c, err := LoadConfig(p, []string{"method=atod-convex", "distill.topk=3"})
	if err != nil {
		t.Fatal(err)
	}
	if k := c.ScoreTopK(); k.KL != 5 || k.Distill != 3 || c.TeacherTopK() != 5 {
		t.Errorf("atod-convex with distill.topk = 3: %+v, teacher lists %d", k, c.TeacherTopK())
	}
}
