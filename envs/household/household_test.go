package household

import (
	"slices"
	"strings"
	"testing"

	"github.com/atod-dev/atod/envs"
	"github.com/atod-dev/atod/envs/envtest"
	// TestNewOptions checks these envs' option errors too.
	_ "github.com/atod-dev/atod/envs/searchqa"
	_ "github.com/atod-dev/atod/envs/webshop"
)

func TestHouseholdOracle(t *testing.T) {
	env := envtest.New(t, "household", nil)
	envtest.OracleSolves(t, env, "train", 500)
	envtest.OracleSolves(t, env, "seen-test", 100)
	envtest.OracleSolves(t, env, "unseen-test", 100)
}

func TestHouseholdOracleAllTypesAndSizes(t *testing.T) {
	for _, tt := range taskTypeNames {
		env := envtest.New(t, "household", map[string]any{"task_types": tt, "min_receptacles": 3, "max_receptacles": 12, "max_objects": 10})
		envtest.OracleSolves(t, env, "unseen-test", 30)
	}
}

func TestHouseholdDeterministic(t *testing.T) {
	envtest.Deterministic(t, envtest.New(t, "household", nil), "train")
}

func TestHouseholdDistinctTasks(t *testing.T) {
	env := envtest.New(t, "household", nil).(*Household)
	tasks, err := env.Tasks("train", 10000, 1)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, task := range tasks {
		w, err := generate(env.cfg, task.Split, task.Seed)
		if err != nil {
			t.Fatal(err)
		}
		keys[w.contentKey()] = true
	}
	if len(keys) < 10000 {
		t.Fatalf("%d distinct tasks, want 10000", len(keys))
	}
}

func TestHouseholdSplitsDisjoint(t *testing.T) {
	env := envtest.New(t, "household", nil).(*Household)
	content := map[string]map[string]bool{}
	layouts := map[string]map[string]bool{}
	kinds := map[string]map[string]bool{}
	for _, split := range []string{"train", "seen-test", "unseen-test"} {
		content[split], layouts[split], kinds[split] = map[string]bool{}, map[string]bool{}, map[string]bool{}
		tasks, err := env.Tasks(split, 1000, 3)
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range tasks {
			w, _ := generate(env.cfg, split, task.Seed)
			content[split][w.contentKey()] = true
			layouts[split][w.layoutKey()] = true
			for _, o := range w.objs {
				kinds[split][o.kind] = true
			}
		}
	}
	for k := range content["seen-test"] {
		if content["train"][k] {
			t.Fatalf("seen-test task also in train: %s", k)
		}
	}
	shared := 0
	for l := range layouts["seen-test"] {
		if layouts["train"][l] {
			shared++
		}
	}
	if shared == 0 {
		t.Fatal("seen-test shares no layout with train")
	}
	for l := range layouts["unseen-test"] {
		if layouts["train"][l] || layouts["seen-test"][l] {
			t.Fatalf("unseen-test layout %s is seen", l)
		}
	}
	for _, k := range objKinds {
		if k.unseen && (kinds["train"][k.name] || kinds["seen-test"][k.name]) {
			t.Fatalf("held-out kind %s appears in a seen split", k.name)
		}
		if k.unseen && !kinds["unseen-test"][k.name] {
			t.Fatalf("held-out kind %s never appears in unseen-test", k.name)
		}
	}
}

// kitchen is a hand-built home for the rule tests.
func kitchen() *world {
	w := &world{room: "k", at: -1, held: -1, taskType: taskHeat, target: "apple", dest: "countertop", goal: "put a hot apple in countertop."}
	for _, r := range []recep{{name: "cabinet 1", kind: "cabinet", openable: true}, {name: "countertop 1", kind: "countertop"},
		{name: "fridge 1", kind: "fridge", openable: true}, {name: "microwave 1", kind: "microwave", openable: true},
		{name: "sinkbasin 1", kind: "sinkbasin"}} {
		w.receps = append(w.receps, r)
	}
	w.objs = []object{{name: "apple 1", kind: "apple", loc: 0}, {name: "mug 1", kind: "mug", loc: 1}}
	return w
}

func TestHouseholdRules(t *testing.T) {
	w := kitchen()
	step := func(cmd string, wantOK bool) string {
		t.Helper()
		fb, ok := w.apply(cmd)
		if ok != wantOK {
			t.Fatalf("%q: admissible %v, want %v (feedback %q, admissible %q)", cmd, ok, wantOK, fb, w.admissible())
		}
		if !ok && fb != "Nothing happens." {
			t.Fatalf("%q: feedback %q for an inadmissible command", cmd, fb)
		}
		return fb
	}
	step("take apple 1 from cabinet 1", false) // not there yet
	if fb := step("go to cabinet 1", true); fb != "You arrive at cabinet 1. The cabinet 1 is closed." {
		t.Fatalf("feedback %q", fb)
	}
	step("take apple 1 from cabinet 1", false) // closed
	step("put apple 1 in cabinet 1", false)    // not in hand
	if fb := step("open cabinet 1", true); fb != "You open the cabinet 1. The cabinet 1 is open. In it, you see a apple 1." {
		t.Fatalf("feedback %q", fb)
	}
	step("take apple 1 from cabinet 1", true)
	step("take mug 1 from countertop 1", false)  // one thing in hand, and not here
	step("heat apple 1 with microwave 1", false) // not at the microwave
	step("go to fridge 1", true)
	step("heat apple 1 with fridge 1", false)
	step("clean apple 1 with fridge 1", false)
	step("go to sinkbasin 1", true)
	step("heat apple 1 with sinkbasin 1", false)
	step("cool apple 1 with sinkbasin 1", false)
	step("clean apple 1 with sinkbasin 1", true)
	if !w.objs[0].clean || w.objs[0].hot {
		t.Fatal("clean did not clean")
	}
	step("go to countertop 1", true)
	step("put mug 1 in/on countertop 1", false) // only the object in hand can be put
	step("put apple 1 on countertop 1", true)
	if w.won() {
		t.Fatal("a cold apple won a heat task")
	}
	step("take apple 1 from countertop 1", true)
	step("go to microwave 1", true)
	if fb := step("heat apple 1 with microwave 1", true); fb != "You heat the apple 1 using the microwave 1." {
		t.Fatalf("feedback %q", fb)
	}
	step("go to fridge 1", true)
	step("cool apple 1 with fridge 1", true)
	if !w.objs[0].cool || w.objs[0].hot {
		t.Fatal("cool did not cool")
	}
	step("go to microwave 1", true)
	step("heat apple 1 with microwave 1", true)
	step("go to countertop 1", true)
	if fb := step("move apple 1 to countertop 1", true); fb != "You move the apple 1 to the countertop 1." {
		t.Fatalf("feedback %q", fb)
	}
	if !w.won() {
		t.Fatal("a hot apple on the countertop did not win")
	}
	if fb := step("inventory", true); fb != "You are not carrying anything." {
		t.Fatalf("feedback %q", fb)
	}
}

func TestHouseholdEpisode(t *testing.T) {
	env := envtest.New(t, "household", map[string]any{"max_steps": 3})
	tasks, _ := env.Tasks("train", 1, 1)
	ep, _ := env.Open(tasks[0])
	if _, err := ep.Step("look"); err == nil {
		t.Fatal("step before reset")
	}
	obs, _ := ep.Reset()
	if !strings.HasPrefix(obs.Text, "You are in the middle of a room.") || !strings.Contains(obs.Text, "Your task is to: ") {
		t.Fatalf("first observation %q", obs.Text)
	}
	r, _ := ep.Step("dance")
	if !r.Info.Invalid || r.Done || r.Text != "Nothing happens." {
		t.Fatalf("invalid action: %+v", r)
	}
	r, _ = ep.Step("look")
	if r.Info.Invalid {
		t.Fatal("look invalid")
	}
	r, _ = ep.Step("inventory")
	if !r.Done || r.Info.Won || r.Info.Reason == "" {
		t.Fatalf("step limit: %+v", r)
	}
	if _, err := ep.Step("look"); err == nil {
		t.Fatal("step after done")
	}
}

// The search oracle wins every task type and acts only on what it has seen:
// until it takes something it visits the receptacles in the listed order, and
// it never walks past a target it sees.
func TestHouseholdSearchOracle(t *testing.T) {
	for _, tt := range taskTypeNames {
		h := envtest.New(t, "household", map[string]any{"task_types": tt, "min_receptacles": 3, "max_receptacles": 12, "max_objects": 10}).(*Household)
		tasks, err := h.Tasks("train", 40, 9)
		if err != nil {
			t.Fatal(err)
		}
		searched := 0
		for _, task := range tasks {
			or, err := h.SearchOracle(task)
			if err != nil {
				t.Fatal(err)
			}
			w, err := generate(h.cfg, task.Split, task.Seed)
			if err != nil {
				t.Fatal(err)
			}
			dest := -1
			if w.dest != "" {
				dest = w.recepIndex(w.dest)
			}
			visits, took := 0, false
			var plan []string
			for !w.won() {
				reply, err := or.Next(envs.Observation{})
				if err != nil {
					t.Fatalf("%s %s: %v after %q", tt, task.ID, err, plan)
				}
				a, _ := h.ParseAction(reply)
				plan = append(plan, a)
				sees := w.held < 0 && w.accessible() && slices.ContainsFunc(w.objs, func(o object) bool {
					return o.loc == w.at && o.kind == w.target && o.loc != dest
				})
				if sees && !strings.HasPrefix(a, "take ") {
					t.Fatalf("%s %s: walks past a visible target with %q (plan %q)", tt, task.ID, a, plan)
				}
				took = took || strings.HasPrefix(a, "take ")
				if r, ok := strings.CutPrefix(a, "go to "); ok && !took {
					if want := w.receps[visits].name; r != want {
						t.Fatalf("%s %s: goes to %s, the listed order says %s (plan %q)", tt, task.ID, r, want, plan)
					}
					visits++
				}
				if _, ok := w.apply(a); !ok {
					t.Fatalf("%s %s: %q is not admissible (plan %q)", tt, task.ID, a, plan)
				}
			}
			if visits > 1 {
				searched++
			}
		}
		if searched == 0 {
			t.Errorf("%s: no plan searched past its first receptacle", tt)
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
		if _, err := envs.New(c.name, c.opts); err == nil {
			t.Errorf("New(%s, %v) accepted", c.name, c.opts)
		}
	}
	env := envtest.New(t, "household", map[string]any{"max_steps": int64(7), "max_objects": 2.0, "task_types": "heat, cool"})
	if h := env.(*Household); h.cfg.maxSteps != 7 || h.cfg.maxObj != 2 || !slices.Equal(h.cfg.types, []int{taskHeat, taskCool}) {
		t.Fatalf("%+v", h.cfg)
	}
	// As a TOML decoder hands them over.
	toml := envtest.New(t, "household", map[string]any{"min_receptacles": int64(4), "task_types": []any{"clean", "pick_two"}}).(*Household)
	if toml.cfg.minRecep != 4 || !slices.Equal(toml.cfg.types, []int{taskClean, taskTwo}) {
		t.Fatalf("%+v", toml.cfg)
	}
	if _, err := env.Tasks("valid_seen", 1, 1); err == nil {
		t.Error("unknown split accepted")
	}
}

// A task's type is the one it was generated as: an env of one type types every
// task so, and an env of all types draws most of them.
func TestHouseholdTaskTypes(t *testing.T) {
	for _, tt := range taskTypeNames {
		if _, types := envtest.TaskTypes(t, "household", map[string]any{"task_types": tt}, "test", 10); slices.ContainsFunc(types, func(s string) bool { return s != tt }) {
			t.Errorf("task_types = %s: types %v", tt, types)
		}
	}
	_, types := envtest.TaskTypes(t, "household", nil, "test", 60)
	seen := map[string]bool{}
	for _, ty := range types {
		seen[ty] = true
	}
	if len(seen) < 5 {
		t.Errorf("60 tasks of %d types: %v", len(seen), types)
	}
}
