// Package envtest provides the checks the env packages' tests share: playing
// a task with an oracle, checking that an oracle solves a split and that tasks
// are deterministic, and fuzzing an episode.
package envtest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/atod-dev/atod/envs"
)

// New is envs.New, failing t on an error.
func New(t testing.TB, name string, opts map[string]any) envs.Env {
	t.Helper()
	env, err := envs.New(name, opts)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// PlayOracle plays task with env's oracle and returns the transcript and the last result.
func PlayOracle(t testing.TB, env envs.Env, task envs.Task) ([]string, envs.StepResult) {
	t.Helper()
	return PlayWith(t, env, task, env.Oracle, nil)
}

// PlayWith plays task with the oracle that oracle makes, failing on an invalid
// action; check, when given, sees each observation and the action played on it.
func PlayWith(t testing.TB, env envs.Env, task envs.Task, oracle func(envs.Task) (envs.Oracle, error), check func(envs.Observation, string)) ([]string, envs.StepResult) {
	t.Helper()
	ep, err := env.Open(task)
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Close()
	or, err := oracle(task)
	if err != nil {
		t.Fatal(err)
	}
	obs, err := ep.Reset()
	if err != nil {
		t.Fatal(err)
	}
	transcript := []string{obs.Text}
	for {
		reply, err := or.Next(obs)
		if err != nil {
			t.Fatalf("%s: %v\n%s", task.ID, err, strings.Join(transcript, "\n"))
		}
		action, ok := env.ParseAction(reply)
		if !ok {
			t.Fatalf("%s: oracle reply %q does not parse", task.ID, reply)
		}
		if check != nil {
			check(obs, action)
		}
		res, err := ep.Step(action)
		if err != nil {
			t.Fatal(err)
		}
		transcript = append(transcript, "> "+action, res.Text)
		if res.Info.Invalid {
			t.Fatalf("%s: oracle action %q invalid\n%s", task.ID, action, strings.Join(transcript, "\n"))
		}
		if res.Done {
			return transcript, res
		}
		obs = res.Observation
	}
}

// OracleSolves checks that the oracle wins every one of n tasks of split and logs the mean steps.
func OracleSolves(t *testing.T, env envs.Env, split string, n int) {
	t.Helper()
	tasks, err := env.Tasks(split, n, 7)
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != n {
		t.Fatalf("%d tasks, want %d", len(tasks), n)
	}
	steps := 0
	for _, task := range tasks {
		tr, res := PlayOracle(t, env, task)
		if !res.Info.Won || res.Reward != 1 {
			t.Fatalf("%s: oracle did not win (reward %v, %s)\n%s", task.ID, res.Reward, res.Info.Reason, strings.Join(tr, "\n"))
		}
		steps += (len(tr) - 1) / 2
	}
	t.Logf("%s %s: oracle solved %d/%d, mean steps %.2f", env.Name(), split, n, n, float64(steps)/float64(n))
}

// Deterministic checks that the same seed gives the same tasks and the same
// oracle transcript, and another seed other tasks.
func Deterministic(t *testing.T, env envs.Env, split string) {
	t.Helper()
	a, err := env.Tasks(split, 20, 42)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := env.Tasks(split, 20, 42)
	c, _ := env.Tasks(split, 20, 43)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatal("same seed, different tasks")
	}
	if fmt.Sprint(a) == fmt.Sprint(c) {
		t.Fatal("different seeds, same tasks")
	}
	for _, task := range a[:5] {
		t1, _ := PlayOracle(t, env, task)
		t2, _ := PlayOracle(t, env, task)
		if strings.Join(t1, "\n") != strings.Join(t2, "\n") {
			t.Fatalf("%s: transcripts differ", task.ID)
		}
	}
}

// TaskTypes draws n tasks of split from an env made by New(name, opts) and
// returns them with their types (envs.Typer), after checking that a second
// env made alike gives every task the same type and that no type is empty.
func TaskTypes(t *testing.T, name string, opts map[string]any, split string, n int) ([]envs.Task, []string) {
	t.Helper()
	var types [2][]string
	var tasks []envs.Task
	for i := range types {
		env := New(t, name, opts)
		var err error
		if tasks, err = env.Tasks(split, n, 42); err != nil {
			t.Fatal(err)
		}
		for _, task := range tasks {
			ty, err := env.(envs.Typer).TaskType(task)
			if err != nil || ty == "" {
				t.Fatalf("%s: type %q, %v", task.ID, ty, err)
			}
			types[i] = append(types[i], ty)
		}
	}
	if fmt.Sprint(types[0]) != fmt.Sprint(types[1]) {
		t.Fatalf("two envs typed the same tasks %v and %v", types[0], types[1])
	}
	return tasks, types[0]
}

// FirstObs is the first observation of a task, the content a test can compare across splits.
func FirstObs(t testing.TB, env envs.Env, task envs.Task) string {
	t.Helper()
	ep, err := env.Open(task)
	if err != nil {
		t.Fatal(err)
	}
	obs, err := ep.Reset()
	if err != nil {
		t.Fatal(err)
	}
	return obs.Text
}

// FuzzEpisode plays one episode of env, checking the results' invariants: each
// line of script is an action, an empty line lets the oracle act (so the
// fuzzer reaches deep states).
func FuzzEpisode(t *testing.T, env envs.Env, split string, seed int64, script string) {
	t.Helper()
	tasks, err := env.Tasks(split, 1, seed)
	if err != nil {
		t.Fatal(err)
	}
	ep, err := env.Open(tasks[0])
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Close()
	or, err := env.Oracle(tasks[0])
	if err != nil {
		or = nil // remote: no oracle
	}
	obs, err := ep.Reset()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(script, "\n")
	if len(lines) > 60 {
		lines = lines[:60]
	}
	for _, line := range lines {
		action := line
		if line == "" && or != nil {
			reply, err := or.Next(obs)
			if err != nil {
				return // the oracle's plan no longer fits the state
			}
			action, _ = env.ParseAction(reply)
		}
		res, err := ep.Step(action)
		if err != nil {
			t.Fatalf("step %q: %v", action, err)
		}
		if res.Reward < 0 || res.Reward > 1 || res.Info.Score < 0 || res.Info.Score > 1 || (res.Info.Won && !res.Done) {
			t.Fatalf("step %q: %+v", action, res)
		}
		if res.Done {
			if _, err := ep.Step(action); err == nil {
				t.Fatal("step after done")
			}
			return
		}
		obs = res.Observation
	}
}

// AddScripts adds each script to f's seed corpus, with its index as the seed.
func AddScripts(f *testing.F, scripts ...string) {
	for i, s := range scripts {
		f.Add(int64(i), s)
	}
}
