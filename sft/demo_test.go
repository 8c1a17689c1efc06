package sft

import (
	"strings"
	"testing"

	"github.com/atod-dev/atod/envs"
)

func TestDemosDropLostPlays(t *testing.T) {
	env, _ := envs.New("household", nil)
	tasks, _ := env.Tasks("train", 10, 3)
	demos, lost, err := Demos(env, tasks, 50, false)
	if err != nil || len(demos) != 10 || lost != 0 {
		t.Fatalf("50 turns: %d demos, %d lost, %v", len(demos), lost, err)
	}
	demos, lost, err = Demos(env, tasks, 1, false)
	if err != nil || len(demos) != 0 || lost != 10 {
		t.Fatalf("1 turn: %d demos, %d lost, %v", len(demos), lost, err)
	}
}

// Explore demos (the searching oracle) win and,
// before the first take visit receptacles in the order the first observation lists them.
func TestExploreDemos(t *testing.T) {
	env, _ := envs.New("household", map[string]any{"max_receptacles": 6})
	tasks, _ := env.Tasks("train", 40, 5)
	demos, lost, err := Demos(env, tasks, 60, true)
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
