package sft

import (
	"slices"
	"strings"
	"testing"

	"github.com/atod-dev/atod/envs"
)

func TestDemosDropLostPlays(t *testing.T) {
	env, _ := envs.New("household", nil)
	tasks, _ := env.Tasks("train", 10, 3)
	demos, lost, err := Demos(env, tasks, DemoOptions{MaxTurns: 50})
	if err != nil || len(demos) != 10 || lost != 0 {
		t.Fatalf("50 turns: %d demos, %d lost, %v", len(demos), lost, err)
	}
	demos, lost, err = Demos(env, tasks, DemoOptions{MaxTurns: 1})
	if err != nil || len(demos) != 0 || lost != 10 {
		t.Fatalf("1 turn: %d demos, %d lost, %v", len(demos), lost, err)
	}
}

// Explore demos (the searching oracle) win and,
// before the first take visit receptacles in the order the first observation lists them.
func TestExploreDemos(t *testing.T) {
	env, _ := envs.New("household", map[string]any{"max_receptacles": 6})
	tasks, _ := env.Tasks("train", 40, 5)
	demos, lost, err := Demos(env, tasks, DemoOptions{MaxTurns: 60, Explore: true})
	if err != nil || lost != 0 || len(demos) != len(tasks) {
		t.Fatalf("%d demos, %d lost, %v", len(demos), lost, err)
	}
	searched := 0
	for _, d := range demos {
		var order []string
		for _, a := range d.First.Admissible {
			if r, ok := strings.CutPrefix(a, "go to "); ok {
				order = append(order, r)
			}
		}
		next := 0
		for _, turn := range d.Turns {
			a, _ := env.ParseAction(turn.Reply)
			if strings.HasPrefix(a, "take ") {
				break
			}
			r, ok := strings.CutPrefix(a, "go to ")
			if !ok {
				continue
			}
			if next >= len(order) || order[next] != r {
				t.Fatalf("%s: visits %q, want the listed order %q", d.Task.ID, r, order)
			}
			next++
		}
		if next > 1 {
			searched++
		}
	}
	if searched == 0 {
		t.Fatal("no demo searched past its first receptacle")
	}
}

// Mistake demos: every injected action was offered earlier, is rejected where
// it is played, and dropping the mistakes leaves the mistake-free play-through.
func TestDemoMistakes(t *testing.T) {
	env, tasks, clean := searchDemos(t)
	noisy, lost, err := Demos(env, tasks, DemoOptions{MaxTurns: 100, Explore: true, Mistakes: 0.3, Seed: 4})
	if err != nil || lost != 0 || len(noisy) != len(clean) {
		t.Fatalf("%d demos, %d lost, %v", len(noisy), lost, err)
	}
	n := 0
	for i, d := range noisy {
		var kept []string
		offered := map[string]bool{}
		for k, turn := range d.Turns {
			a, _ := env.ParseAction(turn.Reply)
			if !d.Mistake[k] {
				kept = append(kept, turn.Reply)
			} else {
				n++
				if !offered[a] || slices.Contains(turn.Obs.Admissible, a) {
					t.Fatalf("%s turn %d: mistake %q offered before %v, admissible now %v", d.Task.ID, k, a, offered[a], turn.Obs.Admissible)
				}
				if next := d.Turns[k+1].Obs.Text; next != "Nothing happens." {
					t.Fatalf("%s turn %d: mistake %q answered %q", d.Task.ID, k, a, next)
				}
			}
			for _, o := range turn.Obs.Admissible {
				offered[o] = true
			}
		}
		if want := replies(clean[i]); !slices.Equal(kept, want) {
			t.Fatalf("%s: without mistakes %q, want %q", d.Task.ID, kept, want)
		}
	}
	if n == 0 {
		t.Fatal("no mistakes injected")
	}
	if _, _, err := Demos(env, tasks, DemoOptions{MaxTurns: 10, Mistakes: 1}); err == nil {
		t.Fatal("mistakes 1 accepted")
	}
}

// Stall demos: every stall is the admissible stall action, taught, and
// dropping the stalls leaves the stall-free play-through.
func TestDemoStalls(t *testing.T) {
	env, tasks, clean := searchDemos(t)
	slow, lost, err := Demos(env, tasks, DemoOptions{MaxTurns: 100, Explore: true, Stall: []string{"look"}, StallRate: 0.3, Seed: 4})
	if err != nil || lost != 0 || len(slow) != len(clean) {
		t.Fatalf("%d demos, %d lost, %v", len(slow), lost, err)
	}
	n := 0
	for i, d := range slow {
		var kept []string
		for k, turn := range d.Turns {
			if a, _ := env.ParseAction(turn.Reply); a != "look" {
				kept = append(kept, turn.Reply)
				continue
			}
			n++
			if !d.taught(k) || !slices.Contains(turn.Obs.Admissible, "look") {
				t.Fatalf("%s turn %d: stall taught %v, admissible %v", d.Task.ID, k, d.taught(k), turn.Obs.Admissible)
			}
		}
		if want := replies(clean[i]); !slices.Equal(kept, want) {
			t.Fatalf("%s: without stalls %q, want %q", d.Task.ID, kept, want)
		}
	}
	if n == 0 {
		t.Fatal("no stalls played")
	}
	for _, o := range []DemoOptions{{MaxTurns: 10, Stall: []string{"look"}}, {MaxTurns: 10, StallRate: 0.2}, {MaxTurns: 10, Stall: []string{"fly"}, StallRate: 0.2}} {
		if _, _, err := Demos(env, tasks, o); err == nil {
			t.Fatalf("%+v accepted", o)
		}
	}
}

// On webshop the stall is a detour of two clicks, to a product's description
// and back: each is followed by the click back, and dropping the detours
// leaves the stall-free play-through. A detour that does not come back (the
// description alone) is refused.
func TestDemoStallDetour(t *testing.T) {
	env, err := envs.New("webshop", nil)
	if err != nil {
		t.Fatal(err)
	}
	tasks, _ := env.Tasks("train", 30, 1)
	clean, _, err := Demos(env, tasks, DemoOptions{MaxTurns: 100, Explore: true})
	if err != nil {
		t.Fatal(err)
	}
	detour := []string{"click[description]", "click[< prev]"}
	slow, _, err := Demos(env, tasks, DemoOptions{MaxTurns: 100, Explore: true, Stall: detour, StallRate: 0.5, Seed: 4})
	if err != nil || len(slow) != len(clean) {
		t.Fatalf("%d demos, want %d: %v", len(slow), len(clean), err)
	}
	n := 0
	for i, d := range slow {
		var kept []string
		for k := 0; k < len(d.Turns); k++ {
			a, _ := env.ParseAction(d.Turns[k].Reply)
			if a != detour[0] {
				kept = append(kept, d.Turns[k].Reply)
				continue
			}
			n++
			if back, _ := env.ParseAction(d.Turns[k+1].Reply); back != detour[1] || !d.taught(k) || !d.taught(k+1) {
				t.Fatalf("%s turn %d: detour %q then %q", d.Task.ID, k, a, back)
			}
			k++
		}
		if want := replies(clean[i]); !slices.Equal(kept, want) {
			t.Fatalf("%s: without detours %q, want %q", d.Task.ID, kept, want)
		}
	}
	if n == 0 {
		t.Fatal("no detours played")
	}
	if _, _, err := Demos(env, tasks, DemoOptions{MaxTurns: 100, Explore: true, Stall: detour[:1], StallRate: 0.5, Seed: 4}); err == nil {
		t.Fatal("a detour that stays on the description page was accepted")
	}
}

// Searchqa lists no actions: its stall is a wasted search, played where the
// rate says and taught; dropping it leaves the plain play-through. A stall the
// env rejects ("look") is refused: a rejected action is a mistake, not a detour.
func TestDemoStallUnlisted(t *testing.T) {
	env, err := envs.New("searchqa", map[string]any{"corpus_size": 150, "max_hops": 2, "max_turns": 8})
	if err != nil {
		t.Fatal(err)
	}
	tasks, _ := env.Tasks("train", 30, 1)
	clean, _, err := Demos(env, tasks, DemoOptions{MaxTurns: 8})
	if err != nil {
		t.Fatal(err)
	}
	stall := "<search>answer</search>"
	slow, _, err := Demos(env, tasks, DemoOptions{MaxTurns: 8, Stall: []string{stall}, StallRate: 0.5, Seed: 4})
	if err != nil || len(slow) != len(clean) {
		t.Fatalf("%d demos, want %d: %v", len(slow), len(clean), err)
	}
	n := 0
	for i, d := range slow {
		var kept []string
		for k, turn := range d.Turns {
			if turn.Reply != stall {
				kept = append(kept, turn.Reply)
				continue
			}
			n++
			if !d.taught(k) {
				t.Fatalf("%s turn %d: stall not taught", d.Task.ID, k)
			}
		}
		if want := replies(clean[i]); !slices.Equal(kept, want) {
			t.Fatalf("%s: without stalls %q, want %q", d.Task.ID, kept, want)
		}
	}
	if n == 0 {
		t.Fatal("no stalls played")
	}
	if _, _, err := Demos(env, tasks, DemoOptions{MaxTurns: 8, Stall: []string{"look"}, StallRate: 0.5, Seed: 4}); err == nil {
		t.Fatal("a stall searchqa rejects was accepted")
	}
}

// searchDemos is the searching oracle's plain play of 20 household train tasks.
func searchDemos(t *testing.T) (envs.Env, []envs.Task, []Demo) {
	env, _ := envs.New("household", nil)
	tasks, _ := env.Tasks("train", 20, 7)
	clean, _, err := Demos(env, tasks, DemoOptions{MaxTurns: 100, Explore: true})
	if err != nil {
		t.Fatal(err)
	}
	return env, tasks, clean
}

func replies(d Demo) []string {
	var r []string
	for _, turn := range d.Turns {
		r = append(r, turn.Reply)
	}
	return r
}

// On webshop the first page offers a template, "search[<your query>]", which
// is never played as a mistake: a search is accepted on every page.
func TestDemoMistakesSkipTemplates(t *testing.T) {
	env, err := envs.New("webshop", nil)
	if err != nil {
		t.Fatal(err)
	}
	tasks, _ := env.Tasks("train", 40, 1)
	demos, _, err := Demos(env, tasks, DemoOptions{MaxTurns: 15, Explore: true, Mistakes: 0.5, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range demos {
		for k, turn := range d.Turns {
			if d.Mistake[k] {
				n++
				if a, _ := env.ParseAction(turn.Reply); strings.HasPrefix(a, "search[") {
					t.Fatalf("%s turn %d: mistake %q", d.Task.ID, k, a)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no mistakes injected")
	}
}
