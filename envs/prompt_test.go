package envs

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

// episodeTurns plays a task with its oracle and returns the first observation,
// the turns (each with the observation its reply answered) and the last observation.
func episodeTurns(t *testing.T, env Env, task Task) (Observation, []Turn, Observation) {
	ep, _ := env.Open(task)
	or, _ := env.Oracle(task)
	first, err := ep.Reset()
	if err != nil {
		t.Fatal(err)
	}
	var turns []Turn
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
		turns = append(turns, Turn{Obs: obs, Reply: reply})
		obs = res.Observation
		if res.Done {
			return first, turns, obs
		}
	}
}

func TestMessagesFullIsAppendOnly(t *testing.T) {
	for _, name := range []string{"household", "webshop", "searchqa"} {
		env := mustNew(t, name, nil)
		tasks, _ := env.Tasks("train", 3, 1)
		for _, task := range tasks {
			first, turns, last := episodeTurns(t, env, task)
			for _, pc := range []PromptConfig{{History: "full"}, {History: "full", Think: true, ShowAdmissible: true}} {
				var prev []Message
				for k := 0; k <= len(turns); k++ {
					cur := last
					if k < len(turns) {
						cur = turns[k].Obs
					}
					msgs := Messages(env, pc, first, turns[:k], cur)
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
	env := mustNew(t, "household", nil)
	tasks, _ := env.Tasks("train", 1, 2)
	first, turns, last := episodeTurns(t, env, tasks[0])
	if len(turns) < 4 {
		t.Fatalf("want a longer episode, got %d turns", len(turns))
	}
	pc := PromptConfig{History: "last", LastN: 2, ShowAdmissible: true, Think: true}
	msgs := Messages(env, pc, first, turns, last)
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
		!strings.HasSuffix(u, RenderObservation(pc, last)) {
		t.Fatalf("last-2 prompt:\n%s", u)
	}
	if !strings.Contains(msgs[0].Content, env.Instructions()) || !strings.Contains(msgs[0].Content, "<think>") {
		t.Fatalf("system prompt:\n%s", msgs[0].Content)
	}
	// An unparseable reply is shown as invalid.
	turns[n-1].Reply = "I do not know"
	if u := Messages(env, pc, first, turns, last)[1].Content; !strings.Contains(u, `"(invalid) I do not know"`) {
		t.Fatalf("invalid reply:\n%s", u)
	}
}

func TestParseAction(t *testing.T) {
	for _, c := range []struct{ reply, want string }{
		{"<action>go to cabinet 1</action>", "go to cabinet 1"},
		{"<think>I should <action>open it</action></think>\n<action>  Go   TO\tCabinet 1 </action>", "go to cabinet 1"},
		{"<think>hm</think>nothing", ""},
		{"<action></action>", ""},
		{"<action>go to", ""},
		{"go to cabinet 1", ""},
		{"<action>" + strings.Repeat("x", maxActionLen+1) + "</action>", ""},
	} {
		got, ok := parseActionTag(c.reply)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("parseActionTag(%q) = %q, %v; want %q", c.reply, got, ok, c.want)
		}
	}
}

func TestConcurrentEpisodes(t *testing.T) {
	for _, name := range []string{"household", "webshop", "searchqa"} {
		env := mustNew(t, name, nil)
		tasks, _ := env.Tasks("train", 16, 11)
		want := make([]string, len(tasks))
		for i, task := range tasks {
			tr, _ := playOracle(t, env, task)
			want[i] = strings.Join(tr, "\n")
		}
		var wg sync.WaitGroup
		got := make([]string, len(tasks))
		for i, task := range tasks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tr, _ := playOracle(t, env, task)
				got[i] = strings.Join(tr, "\n")
			}()
		}
		wg.Wait()
		if !slices.Equal(got, want) {
			t.Fatalf("%s: concurrent transcripts differ from sequential ones", name)
		}
	}
}

func TestNewOptions(t *testing.T) {
	for _, c := range []struct {
		name string
		opts map[string]any
	}{
		{"nethack", nil},
		{"household", map[string]any{"max_receptacles": 2}},
		{"household", map[string]any{"task_types": "juggle"}},
		{"household", map[string]any{"max_step": 5}},
		{"household", map[string]any{"max_steps": "many"}},
		{"household", map[string]any{"max_steps": 2.5}},
		{"household", map[string]any{"task_types": []any{1}}},
		{"webshop", map[string]any{"page_size": 0}},
		{"searchqa", map[string]any{"retriever_style": "x", "retriever_url": "http://x"}},
	} {
		if _, err := New(c.name, c.opts); err == nil {
			t.Errorf("New(%s, %v) accepted", c.name, c.opts)
		}
	}
	env := mustNew(t, "household", map[string]any{"max_steps": int64(7), "max_objects": 2.0, "task_types": "heat, cool"})
	if h := env.(*Household); h.cfg.maxSteps != 7 || h.cfg.maxObj != 2 || !slices.Equal(h.cfg.types, []int{taskHeat, taskCool}) {
		t.Fatalf("%+v", h.cfg)
	}
	// As a TOML decoder hands them over.
	toml := mustNew(t, "household", map[string]any{"min_receptacles": int64(4), "task_types": []any{"clean", "pick_two"}}).(*Household)
	if toml.cfg.minRecep != 4 || !slices.Equal(toml.cfg.types, []int{taskClean, taskTwo}) {
		t.Fatalf("%+v", toml.cfg)
	}
	if _, err := env.Tasks("valid_seen", 1, 1); err == nil {
		t.Error("unknown split accepted")
	}
}
