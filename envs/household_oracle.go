package envs

import "fmt"

// planOracle replays a precomputed list of actions. The built-in oracles plan on
// a private copy of the episode, so the plan is valid when they play from Reset.
type planOracle struct {
	plan []string
	i    int
}

func (p *planOracle) Next(Observation) (string, error) {
	if p.i >= len(p.plan) {
		return "", fmt.Errorf("oracle: plan of %d actions exhausted", len(p.plan))
	}
	p.i++
	return actionReply(p.plan[p.i-1]), nil
}

func (h *Household) Oracle(t Task) (Oracle, error) {
	w, err := genHousehold(h.cfg, t.Split, t.Seed)
	if err != nil {
		return nil, err
	}
	plan, err := householdPlan(w)
	if err != nil {
		return nil, fmt.Errorf("household oracle %s: %w", t.ID, err)
	}
	return &planOracle{plan: plan}, nil
}

// householdPlan solves w (it changes w): fetch a target, treat it, carry it to
// the first receptacle of the destination kind (twice for pick_two), or to the lamp.
func householdPlan(w *world) ([]string, error) {
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
	goTo := func(r int) {
		if w.at != r {
			do("go to " + w.receps[r].name)
		}
		if rc := w.receps[r]; rc.openable && !rc.open {
			do("open " + rc.name)
		}
	}
	dest := -1
	if w.dest != "" {
		dest = w.recepIndex(w.dest)
	}
	fetch := func() int {
		for j, o := range w.objs {
			if o.kind == w.target && o.loc >= 0 && o.loc != dest {
				goTo(o.loc)
				do(fmt.Sprintf("take %s from %s", o.name, w.receps[o.loc].name))
				return j
			}
		}
		err = fmt.Errorf("no %s left to fetch", w.target)
		return -1
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
			for _, o := range w.objs {
				if o.lamp {
					goTo(o.loc)
					do("use " + o.name)
				}
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
