package envs

import (
	"fmt"
	"strings"
	"testing"
)

func mustNew(t testing.TB, name string, opts map[string]any) Env {
	t.Helper()
	env, err := New(name, opts)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// playOracle plays t with env's oracle and returns the transcript and the last result.
func playOracle(t testing.TB, env Env, task Task) ([]string, StepResult) {
	t.Helper()
	return playWith(t, env, task, env.Oracle, nil)
}

// playWith plays t with the oracle that oracle makes, failing on an invalid
// action; check, when given, sees each observation and the action played on it.
func playWith(t testing.TB, env Env, task Task, oracle func(Task) (Oracle, error), check func(Observation, string)) ([]string, StepResult) {
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

// testOracleSolves checks that the oracle wins every one of n tasks of split and logs the mean steps.
func testOracleSolves(t *testing.T, env Env, split string, n int) {
	tasks, err := env.Tasks(split, n, 7)
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != n {
		t.Fatalf("%d tasks, want %d", len(tasks), n)
	}
	steps := 0
	for _, task := range tasks {
		tr, res := playOracle(t, env, task)
		if !res.Info.Won || res.Reward != 1 {
			t.Fatalf("%s: oracle did not win (reward %v, %s)\n%s", task.ID, res.Reward, res.Info.Reason, strings.Join(tr, "\n"))
		}
		steps += (len(tr) - 1) / 2
	}
	t.Logf("%s %s: oracle solved %d/%d, mean steps %.2f", env.Name(), split, n, n, float64(steps)/float64(n))
}

// testDeterministic: the same seed gives the same tasks and the same oracle transcript.
func testDeterministic(t *testing.T, env Env, split string) {
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
		t1, _ := playOracle(t, env, task)
		t2, _ := playOracle(t, env, task)
		if strings.Join(t1, "\n") != strings.Join(t2, "\n") {
			t.Fatalf("%s: transcripts differ", task.ID)
		}
	}
}

// firstObs is the first observation of a task, the content a test can compare across splits.
func firstObs(t testing.TB, env Env, task Task) string {
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
