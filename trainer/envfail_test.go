package trainer

import (
	"fmt"
	"io"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/atod-dev/atod/envs/envtest"
	_ "github.com/atod-dev/atod/envs/household"
	"github.com/atod-dev/atod/envs/remote"
	"github.com/atod-dev/atod/trainer/rollout"
	"github.com/atod-dev/atod/trainer/rundir"
)

// remoteRun runs cfg against the remote env on a loopback AgentGym server whose
// requests fail where fail says (nil: never).
func remoteRun(t *testing.T, cfg *Config, fail func(path string, game int) bool) error {
	t.Helper()
	g := envtest.NewGym("alfworld", envtest.New(t, "household", nil))
	var mu sync.Mutex
	if fail != nil {
		g.Fail = func(path string, game int) bool {
			mu.Lock()
			defer mu.Unlock()
			return fail(path, game)
		}
	}
	srv := httptest.NewServer(g)
	defer srv.Close()
	env := envtest.New(t, "remote", map[string]any{"url": srv.URL, "env": "alfworld", "timeout": 2, "retries": 0})
	_, err := Run(cfg, RunOptions{Open: (&fakeOpener{lr: 1}).open, Env: env, Log: io.Discard})
	return err
}

// games are the server-side games of split's tasks drawn with seed.
func games(t *testing.T, split string, n int, seed int64) []string {
	env := envtest.New(t, "remote", map[string]any{"url": "http://127.0.0.1:1", "env": "alfworld"})
	tasks, err := env.Tasks(split, n, seed)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, task := range tasks {
		g, err := env.(*remote.Remote).Game(task)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprint(g))
	}
	return out
}

// stepGames are the games of a run's training tasks at step.
func stepGames(t *testing.T, cfg *Config, step int) []string {
	return games(t, "train", cfg.Rollout.TasksPerStep, int64(rollout.DeriveSeed(cfg.Seed, int64(step))>>1))
}

func envFailConfig(t *testing.T, sets ...string) *Config {
	return fakeConfig(t, append([]string{"steps=3", "rollout.max_turns=3", "rollout.context=16384", "rollout.env_backoff=0", "checkpoint.every=0"}, sets...)...)
}

// An episode the server fails once is replayed on a fresh env and the run is
// the run without the failure; one it always fails takes its group out of the
// update, counted, and the run goes on; a server down for a whole step stops
// the run with the reason.
func TestEnvFailures(t *testing.T) {
	plain := envFailConfig(t, "eval.tasks=4", "eval.teacher=false")
	if err := remoteRun(t, plain, nil); err != nil {
		t.Fatal(err)
	}
	want := rundir.DropTimes(readTrain(t, plain.OutDir))
	wantEval := readEval(t, plain.OutDir, "student")

	t.Run("once", func(t *testing.T) {
		cfg := envFailConfig(t, "eval.tasks=4", "eval.teacher=false")
		failed := map[string]bool{} // the first step of every game, train and eval, fails once
		err := remoteRun(t, cfg, func(path string, game int) bool {
			k := fmt.Sprint(game)
			if path != "/step" || failed[k] {
				return false
			}
			failed[k] = true
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		got := rundir.DropTimes(readTrain(t, cfg.OutDir))
		for i := range got {
			if got[i].EnvFailures == 0 || got[i].EnvRetries != got[i].EnvFailures || got[i].GroupsDrop != 0 {
				t.Errorf("step %d: %d failures, %d replays, %d groups dropped", got[i].Step, got[i].EnvFailures, got[i].EnvRetries, got[i].GroupsDrop)
			}
			got[i].EnvFailures, got[i].EnvRetries = 0, 0
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("with one failure per game:\n%+v\nwithout:\n%+v", got, want)
		}
		ev := readEval(t, cfg.OutDir, "student")
		for i := range ev {
			ev[i].Seconds, wantEval[i].Seconds = 0, 0
		}
		if !reflect.DeepEqual(ev, wantEval) {
			t.Errorf("eval with one failure per game:\n%+v\nwithout:\n%+v", ev, wantEval)
		}
	})

	t.Run("always", func(t *testing.T) {
		cfg := envFailConfig(t, "eval.tasks=4", "eval.teacher=false", "rollout.env_retries=1")
		bad := stepGames(t, cfg, 2)[0]                                   // one game of step 2's tasks always fails,
		badEval := games(t, cfg.Eval.Split, cfg.Eval.Tasks, cfg.Seed)[0] // and one held-out game
		if err := remoteRun(t, cfg, func(path string, game int) bool {
			return path == "/step" && (fmt.Sprint(game) == bad || fmt.Sprint(game) == badEval)
		}); err != nil {
			t.Fatal(err)
		}
		ms := readTrain(t, cfg.OutDir)
		g := cfg.Rollout.GroupSize
		if len(ms) != 3 || ms[1].GroupsDrop != 1 || ms[1].EnvFailures != 2*g || ms[1].EnvRetries != g || ms[0].GroupsDrop != 0 {
			t.Fatalf("step 2: %d groups dropped, %d failures, %d replays (want 1, %d, %d)", ms[1].GroupsDrop, ms[1].EnvFailures, ms[1].EnvRetries, 2*g, g)
		}
		// The dropped group's episodes are in no figure of the step.
		if ms[1].EpisodeLen != 3 || ms[1].Tokens == 0 {
			t.Errorf("step 2: episode length %v over %d tokens", ms[1].EpisodeLen, ms[1].Tokens)
		}
		for _, e := range readEval(t, cfg.OutDir, "student") {
			if e.Failed != 1 || e.Tasks != 4 {
				t.Errorf("eval at step %d: %d of %d tasks failed, want 1 counted apart", e.Step, e.Failed, e.Tasks)
			}
		}
	})

	t.Run("down", func(t *testing.T) {
		cfg := envFailConfig(t, "eval.tasks=0")
		step2 := map[string]bool{}
		for _, g := range stepGames(t, cfg, 2) {
			step2[g] = true
		}
		err := remoteRun(t, cfg, func(path string, game int) bool { return step2[fmt.Sprint(game)] })
		if err == nil || !strings.Contains(err.Error(), "step 2") || !strings.Contains(err.Error(), "is down") || !strings.Contains(err.Error(), "500") {
			t.Fatalf("server down for step 2: %v", err)
		}
		t.Log(err)
		if ms := readTrain(t, cfg.OutDir); len(ms) != 1 {
			t.Errorf("%d steps written, want step 1 only", len(ms))
		}
	})
}
