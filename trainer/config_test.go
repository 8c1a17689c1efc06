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
		{"", []string{"tdur.w_min=2"}, "tdur.w_min"},
		{"", []string{"backend.device=tpu"}, "backend.device"},
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
	if _, err := LoadConfig(p, []string{"rollout.group_size=1", "schedule.shape=constant", "schedule.lambda0=0"}); err != nil {
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
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		c := DefaultConfig()
		if err := decodeStrict(string(b), &c); err != nil {
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
		if c.Env.Name != env || c.Backend.Device != "cpu" || !c.TDUR.Enabled || c.Schedule.MaxLambda() != 1 || c.Lambda(0) != 0 {
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
		{"steps=99", true}, {"out_dir=elsewhere", true}, {"eval.tasks=3", true}, {"checkpoint.every=1", true},
		{"record.episodes=9", true}, {"backend.threads=3", true}, {"optim.recompute=false", true}, {"optim.keep_mlp_mb=7", true},
		{"optim.lr=0.5", false}, {"optim.micro_tokens=64", false}, {"lora.rank=3", false}, {"seed=2", false},
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
