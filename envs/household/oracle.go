package household

import (
	"fmt"

	"github.com/atod-dev/atod/envs"
)

// Oracle solves t knowing where every object is.
func (h *Household) Oracle(t envs.Task) (envs.Oracle, error) { return h.oracle(t, false) }

// SearchOracle solves t as an agent that cannot see into the home could: it
// looks for what it needs where it has already been, else visits the
// receptacles in the order the first observation lists them, opening closed
// ones, and takes the first object of the task's kind it comes across. The
// plain oracle walks straight to objects it has not seen; cloning that teaches
// a model to guess, cloning this one teaches it to search.
func (h *Household) SearchOracle(t envs.Task) (envs.Oracle, error) { return h.oracle(t, true) }

func (h *Household) oracle(t envs.Task, search bool) (envs.Oracle, error) {
	w, err := generate(h.cfg, t.Split, t.Seed)
	if err != nil {
		return nil, err
	}
	plan, err := solve(w, search)
	if err != nil {
		kind := "oracle"
		if search {
			kind = "search oracle"
		}
		return nil, fmt.Errorf("household %s %s: %w", kind, t.ID, err)
	}
	return envs.ReplayActions(plan), nil
}

// solve plans w's task (it changes w): fetch a target, treat it, carry it to
// the first receptacle of the destination kind (twice for pick_two), or to the
// lamp. With search it finds objects by looking (SearchOracle).
func solve(w *world, search bool) ([]string, error) {
	var plan []string
	var err error
	do := func(cmd string) {
		if err != nil {
			return
		}
		if _, ok := w.apply(cmd); !ok {
			err = fmt.Errorf("planned %q is not admissible", cmd)
		}
		plan = append(plan, cmd)
	}
	seen := map[int]bool{} // receptacles looked into
	goTo := func(r int) {
		if w.at != r {
			do("go to " + w.receps[r].name)
		}
		if rc := w.receps[r]; rc.openable && !rc.open {
			do("open " + rc.name)
		}
		seen[r] = true
	}
	dest := -1
	if w.dest != "" {
		dest = w.recepIndex(w.dest)
	}
	// find goes to an object that ok accepts and returns its index (-1: none).
	find := func(ok func(o object) bool) int {
		if !search {
			for j, o := range w.objs {
				if o.loc >= 0 && ok(o) {
					goTo(o.loc)
					return j
				}
			}
			return -1
		}
		in := func(r int) int {
			for j, o := range w.objs {
				if o.loc == r && ok(o) {
					return j
				}
			}
			return -1
		}
		for r := range w.receps { // where it has looked already
			if j := in(r); j >= 0 && seen[r] {
				goTo(r)
				return j
			}
		}
		for r := range w.receps { // then the rest, in the listed order
			if seen[r] {
				continue
			}
			goTo(r)
			if j := in(r); j >= 0 {
				return j
			}
		}
		return -1
	}
	fetch := func() int {
		j := find(func(o object) bool { return o.kind == w.target && o.loc != dest })
		if j < 0 {
			err = fmt.Errorf("no %s left to fetch", w.target)
			return -1
		}
		do(fmt.Sprintf("take %s from %s", w.objs[j].name, w.receps[w.objs[j].loc].name))
		return j
	}
	n := 1
	if w.taskType == taskTwo {
		n = 2
	}
	for range n {
		j := fetch()
		if err != nil {
			return nil, err
		}
		name := w.objs[j].name
		switch w.taskType {
		case taskLook:
			if l := find(func(o object) bool { return o.lamp }); l >= 0 {
				do("use " + w.objs[l].name)
			}
			continue
		case taskHeat, taskClean, taskCool:
			a := w.recepIndex(taskAppliance[w.taskType])
			if w.at != a {
				do("go to " + w.receps[a].name)
			}
			verb := map[int]string{taskHeat: "heat", taskClean: "clean", taskCool: "cool"}[w.taskType]
			do(fmt.Sprintf("%s %s with %s", verb, name, w.receps[a].name))
		}
		goTo(dest)
		do(fmt.Sprintf("put %s in/on %s", name, w.receps[dest].name))
	}
	if err == nil && !w.won() {
		err = fmt.Errorf("plan %q does not win", plan)
	}
	return plan, err
}
