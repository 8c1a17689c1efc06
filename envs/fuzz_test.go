package envs

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func FuzzParseAction(f *testing.F) {
	for _, s := range []string{"<action>go to cabinet 1</action>", "<think>x</think><action>click[buy now]</action>",
		"<search>who</search>", "<answer>a</answer>", "<think><action>a</action>", "<action>\x00</action>", "<search></search><answer>"} {
		f.Add(s)
	}
	envs := []Env{mustNew(f, "household", nil), mustNew(f, "searchqa", map[string]any{"corpus_size": 20}),
		mustNew(f, "remote", map[string]any{"url": "http://127.0.0.1:1"})}
	f.Fuzz(func(t *testing.T, reply string) {
		for _, env := range envs {
			a, ok := env.ParseAction(reply)
			if ok != (a != "") || len(a) > len(reply)+64 {
				t.Fatalf("%s: ParseAction(%q) = %q, %v", env.Name(), reply, a, ok)
			}
			// A parsed action, written back as a reply, parses to itself.
			if ok && env.Name() != "searchqa" {
				if b, ok2 := env.ParseAction(actionReply(a)); !ok2 || b != a {
					t.Fatalf("%s: %q reparsed as %q", env.Name(), a, b)
				}
			}
		}
	})
}

// fuzzEpisode plays one episode of env: each line of script is an action, an
// empty line lets the oracle act (so the fuzzer reaches deep states).
func fuzzEpisode(t *testing.T, env Env, split string, seed int64, script string) {
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

func addScripts(f *testing.F, scripts ...string) {
	for i, s := range scripts {
		f.Add(int64(i), s)
	}
}

func FuzzHouseholdStep(f *testing.F) {
	addScripts(f, "\n\n\n\n\n\n\n\n\n\n\n\n", "look\ninventory\ngo to cabinet 1\nopen cabinet 1\n", "\n\nput x in/on y\nmove a to b\n\n\n\n",
		"take  apple 1   from countertop 1\nexamine\nuse desklamp 1\n\x00\n")
	env := mustNew(f, "household", map[string]any{"max_steps": 30})
	splits := []string{"train", "seen-test", "unseen-test"}
	f.Fuzz(func(t *testing.T, seed int64, script string) {
		fuzzEpisode(t, env, splits[uint64(seed)%3], seed, script)
	})
}

func FuzzWebShopStep(f *testing.F) {
	addScripts(f, "\n\n\n\n\n\n\n", "search[red shirt]\nclick[next >]\nclick[< prev]\nclick[back to search]\n",
		"\nclick[next >]\n\nclick[description]\nclick[< prev]\nclick[features]\nclick[buy now]", "click[]\nsearch[]\n[x]\nsearch[[]]\n")
	env := mustNew(f, "webshop", map[string]any{"products": 200})
	f.Fuzz(func(t *testing.T, seed int64, script string) {
		fuzzEpisode(t, env, []string{"train", "test"}[uint64(seed)%2], seed, script)
	})
}

func FuzzSearchQAStep(f *testing.F) {
	addScripts(f, "\n\n\n\n", "<search>who</search>\n<answer>x</answer>", "<search></search>\nhello\n\n", "<answer> The  </answer>")
	env := mustNew(f, "searchqa", map[string]any{"corpus_size": 100})
	f.Fuzz(func(t *testing.T, seed int64, script string) {
		fuzzEpisode(t, env, []string{"train", "test"}[uint64(seed)%2], seed, script)
	})
}

// FuzzRemoteStep drives the remote client against a loopback AgentGym-style
// server (fakeGym); odd seeds use the WebShop protocol.
func FuzzRemoteStep(f *testing.F) {
	addScripts(f, "look\ngo to cabinet 1\n", "search[x]\nclick[next >]\nclick[buy now]\n", "\x00\n\"\n{}\n")
	var envs [2]Env
	for i, flavor := range []string{"alfworld", "webshop"} {
		g := &fakeGym{flavor: flavor, eps: map[int]Episode{}, last: map[int]StepResult{}}
		g.env = mustNew(f, map[string]string{"alfworld": "household", "webshop": "webshop"}[flavor], map[string]any{})
		srv := httptest.NewServer(g)
		f.Cleanup(srv.Close)
		envs[i] = mustNew(f, "remote", map[string]any{"url": srv.URL, "env": flavor, "timeout": 5, "retries": 0})
	}
	f.Fuzz(func(t *testing.T, seed int64, script string) {
		env := envs[uint64(seed)%2]
		fuzzEpisode(t, env, []string{"train", "test"}[uint64(seed)%2], seed, script)
	})
}
