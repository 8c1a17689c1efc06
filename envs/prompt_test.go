package envs_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/atod-dev/atod/envs"
	"github.com/atod-dev/atod/envs/envtest"
	"github.com/atod-dev/atod/model"
)

// episodeTurns plays a task with its oracle and returns the first observation,
// the turns (each with the observation its reply answered) and the last observation.
func episodeTurns(t *testing.T, env envs.Env, task envs.Task) (envs.Observation, []envs.Turn, envs.Observation) {
	ep, _ := env.Open(task)
	or, _ := env.Oracle(task)
	first, err := ep.Reset()
	if err != nil {
		t.Fatal(err)
	}
	var turns []envs.Turn
	obs := first
	for {
		reply, err := or.Next(obs)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := env.ParseAction(reply)
		res, err := ep.Step(a)
		if err != nil {
			t.Fatal(err)
		}
		turns = append(turns, envs.Turn{Obs: obs, Reply: reply})
		obs = res.Observation
		if res.Done {
			return first, turns, obs
		}
	}
}

func TestMessagesFullIsAppendOnly(t *testing.T) {
	for _, name := range []string{"household", "webshop", "searchqa"} {
		env := envtest.New(t, name, nil)
		tasks, _ := env.Tasks("train", 3, 1)
		for _, task := range tasks {
			first, turns, last := episodeTurns(t, env, task)
			for _, pc := range []envs.PromptConfig{{History: "full"}, {History: "full", Think: true, ShowAdmissible: true}} {
				var prev []model.Message
				for k := 0; k <= len(turns); k++ {
					cur := last
					if k < len(turns) {
						cur = turns[k].Obs
					}
					msgs := envs.Messages(env, pc, first, turns[:k], cur)
					if len(msgs) != 2+2*k {
						t.Fatalf("%s: %d messages after %d turns", name, len(msgs), k)
					}
					if !slices.Equal(msgs[:len(prev)], prev) {
						t.Fatalf("%s turn %d: not an extension of the previous prompt", name, k)
					}
					if k > 0 && (msgs[2*k].Role != "assistant" || msgs[2*k].Content != turns[k-1].Reply) {
						t.Fatalf("%s turn %d: assistant message %+v", name, k, msgs[2*k])
					}
					if msgs[len(msgs)-1].Role != "user" || !strings.HasPrefix(msgs[len(msgs)-1].Content, cur.Text) {
						t.Fatalf("%s turn %d: last message is not the current observation", name, k)
					}
					prev = msgs
				}
			}
		}
	}
}

func TestMessagesLast(t *testing.T) {
	env := envtest.New(t, "household", nil)
	tasks, _ := env.Tasks("train", 1, 2)
	first, turns, last := episodeTurns(t, env, tasks[0])
	if len(turns) < 4 {
		t.Fatalf("want a longer episode, got %d turns", len(turns))
	}
	pc := envs.PromptConfig{History: "last", LastN: 2, ShowAdmissible: true, Think: true}
	msgs := envs.Messages(env, pc, first, turns, last)
	if len(msgs) != 2 || msgs[0].Role != "system" || msgs[1].Role != "user" {
		t.Fatalf("%+v", msgs)
	}
	u := msgs[1].Content
	n := len(turns)
	a1, _ := env.ParseAction(turns[n-1].Reply)
	a2, _ := env.ParseAction(turns[n-2].Reply)
	if !strings.HasPrefix(u, first.Text) || !strings.Contains(u, fmt.Sprintf("Action %d: %q]", n, a1)) ||
		!strings.Contains(u, fmt.Sprintf("Action %d: %q]", n-1, a2)) || strings.Contains(u, fmt.Sprintf("[Observation %d:", n-2)) ||
		!strings.Contains(u, "Admissible actions: ") ||
		!strings.HasSuffix(u, envs.RenderObservation(pc, last)) {
		t.Fatalf("last-2 prompt:\n%s", u)
	}
	if !strings.Contains(msgs[0].Content, env.Instructions()) || !strings.Contains(msgs[0].Content, "<think>") {
		t.Fatalf("system prompt:\n%s", msgs[0].Content)
	}
	// An unparseable reply is shown as invalid.
	turns[n-1].Reply = "I do not know"
	if u := envs.Messages(env, pc, first, turns, last)[1].Content; !strings.Contains(u, `"(invalid) I do not know"`) {
		t.Fatalf("invalid reply:\n%s", u)
	}
}
