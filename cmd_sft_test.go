package main

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/atod-dev/atod/trainer"
)

// The learner sft builds takes lora, optim and backend from CONFIG, and the
// flags that spell config keys override it.
func TestSFTConfigFile(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "run.toml")
	doc := "seed = 7\n[lora]\nrank = 3\nalpha = 6.0\ntargets = [\"q\", \"down\"]\n[optim]\nlr = 0.0125\nmicro_tokens = 512\n" +
		"[backend]\nthreads = 2\n[env]\nname = \"household\"\n[env.options]\nmax_steps = 9\n[rollout]\nmax_turns = 9\n"
	if err := os.WriteFile(cfgPath, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "m.gguf")
	if err := os.WriteFile(model, []byte("not opened: the fake opener stops first"), 0o644); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	for _, c := range []struct {
		flags    []string
		lr, seed float64
	}{
		{nil, 0.0125, 7},
		{[]string{"--lr", "0.5", "--seed", "3"}, 0.5, 3},
		{[]string{"--set", "optim.lr=0.25"}, 0.25, 7},
	} {
		var got *trainer.Config
		open := func(cfg *trainer.Config, need trainer.Need) (*trainer.Models, error) {
			got = cfg
			return nil, stop
		}
		args := append([]string{"atod", "sft", cfgPath, "--model", model, "--out", filepath.Join(dir, "out.gguf"), "--tasks", "2"}, c.flags...)
		cmds := []*cli.Command{sftCommand(open)}
		if err := newApp(cmds).Run(flagsFirst(cmds, args)); !errors.Is(err, stop) {
			t.Fatalf("%q: %v, want the fake opener's error", c.flags, err)
		}
		if got.Optim.LR != c.lr || float64(got.Seed) != c.seed || got.Optim.MicroTokens != 512 || got.Backend.Threads != 2 ||
			got.LoRA.Rank != 3 || got.LoRA.Alpha != 6 || len(got.LoRA.Targets) != 2 || got.Student.Model != model {
			t.Errorf("%q: learner built with %+v %+v %+v seed %d model %s", c.flags, got.Optim, got.LoRA, got.Backend, got.Seed, got.Student.Model)
		}
	}
}
