package household

import (
	"fmt"
	"sort"
	"strings"

	"github.com/atod-dev/atod/envs"
)

// describe is what the agent sees of a receptacle.
func (w *world) describe(r int) string {
	rc := w.receps[r]
	if rc.openable && !rc.open {
		return fmt.Sprintf("The %s is closed.", rc.name)
	}
	var items []string
	for _, o := range w.objs {
		if o.loc == r {
			items = append(items, "a "+o.name)
		}
	}
	if rc.openable {
		return fmt.Sprintf("The %s is open. In it, you see %s.", rc.name, oxford(items))
	}
	return fmt.Sprintf("On the %s, you see %s.", rc.name, oxford(items))
}

// firstObservation is the ALFWorld opening (without its banner, as AgentGym serves it).
func (w *world) firstObservation() string {
	names := make([]string, len(w.receps))
	for i, r := range w.receps {
		names[i] = "a " + r.name
	}
	return "You are in the middle of a room. Looking quickly around you, you see " + oxford(names) +
		".\n\nYour task is to: " + w.goal
}

// accessible: the agent can reach into the receptacle it stands at.
func (w *world) accessible() bool {
	return w.at >= 0 && (!w.receps[w.at].openable || w.receps[w.at].open)
}

func (w *world) recepIndex(kind string) int {
	for i, r := range w.receps {
		if r.kind == kind {
			return i
		}
	}
	return -1
}

// commands maps every admissible command to its effect, which returns the feedback.
func (w *world) commands() map[string]func() string {
	cmds := map[string]func() string{
		"look": func() string {
			if w.at < 0 {
				return strings.SplitN(w.firstObservation(), "\n", 2)[0]
			}
			return fmt.Sprintf("You are facing the %s. Next to it, you see nothing.", w.receps[w.at].name)
		},
		"inventory": func() string {
			if w.held < 0 {
				return "You are not carrying anything."
			}
			return fmt.Sprintf("You are carrying: a %s.", w.objs[w.held].name)
		},
	}
	for i := range w.receps {
		if i == w.at {
			continue
		}
		cmds["go to "+w.receps[i].name] = func() string {
			w.at = i
			return fmt.Sprintf("You arrive at %s. %s", w.receps[i].name, w.describe(i))
		}
	}
	if w.at < 0 {
		return cmds
	}
	r := &w.receps[w.at]
	cmds["examine "+r.name] = func() string { return w.describe(w.at) }
	if r.openable && !r.open {
		cmds["open "+r.name] = func() string {
			r.open = true
			return fmt.Sprintf("You open the %s. %s", r.name, w.describe(w.at))
		}
	}
	if r.openable && r.open {
		cmds["close "+r.name] = func() string {
			r.open = false
			return fmt.Sprintf("You close the %s.", r.name)
		}
	}
	if w.held >= 0 {
		o := &w.objs[w.held]
		cmds["examine "+o.name] = w.examine(w.held)
		verb := map[string]string{"microwave": "heat", "sinkbasin": "clean", "fridge": "cool"}[r.kind]
		if verb != "" {
			cmds[fmt.Sprintf("%s %s with %s", verb, o.name, r.name)] = func() string {
				switch verb {
				case "heat":
					o.hot, o.cool = true, false
				case "cool":
					o.cool, o.hot = true, false
				case "clean":
					o.clean = true
				}
				return fmt.Sprintf("You %s the %s using the %s.", verb, o.name, r.name)
			}
		}
	}
	if !w.accessible() {
		return cmds
	}
	if w.held >= 0 {
		o := &w.objs[w.held]
		cmds[fmt.Sprintf("put %s in/on %s", o.name, r.name)] = func() string {
			o.loc, w.held = w.at, -1
			return fmt.Sprintf("You put the %s in/on the %s.", o.name, r.name)
		}
	}
	for j := range w.objs {
		o := &w.objs[j]
		if o.loc != w.at || j == w.held {
			continue
		}
		cmds["examine "+o.name] = w.examine(j)
		if o.lamp {
			cmds["use "+o.name] = func() string {
				o.on = !o.on
				if o.on {
					return fmt.Sprintf("You turn on the %s.", o.name)
				}
				return fmt.Sprintf("You turn off the %s.", o.name)
			}
		} else if w.held < 0 {
			cmds[fmt.Sprintf("take %s from %s", o.name, r.name)] = func() string {
				w.held, o.loc = j, -1
				return fmt.Sprintf("You pick up the %s from the %s.", o.name, r.name)
			}
		}
	}
	return cmds
}

func (w *world) examine(j int) func() string {
	return func() string {
		o := w.objs[j]
		var states []string
		for _, s := range []struct {
			on   bool
			name string
		}{{o.clean, "clean"}, {o.hot, "hot"}, {o.cool, "cool"}} {
			if s.on {
				states = append(states, s.name)
			}
		}
		if o.lamp {
			if o.on {
				return fmt.Sprintf("The %s is on.", o.name)
			}
			return fmt.Sprintf("The %s is off.", o.name)
		}
		if len(states) == 0 {
			return fmt.Sprintf("There's nothing special about %s.", o.name)
		}
		return fmt.Sprintf("This is a %s %s.", strings.Join(states, ", "), o.name)
	}
}

// admissible lists the commands, sorted as ALFWorld lists them.
func (w *world) admissible() []string {
	cmds := w.commands()
	list := make([]string, 0, len(cmds))
	for c := range cmds {
		list = append(list, c)
	}
	sort.Strings(list)
	return list
}

// Canonical maps the accepted spellings of put ("put X in Y", "put X on Y",
// and the newer "move X to Y") onto ALFWorld's "put X in/on Y", the form its
// admissible commands take; any other command is returned unchanged. cmd is
// expected in envs.NormSpace form.
func Canonical(cmd string) string {
	if rest, ok := strings.CutPrefix(cmd, "move "); ok {
		if obj, dst, ok := strings.Cut(rest, " to "); ok {
			return "put " + obj + " in/on " + dst
		}
	}
	if rest, ok := strings.CutPrefix(cmd, "put "); ok {
		for _, prep := range []string{" in/on ", " in ", " on "} {
			if obj, dst, ok := strings.Cut(rest, prep); ok {
				return "put " + obj + " in/on " + dst
			}
		}
	}
	return cmd
}

// won says whether the goal holds.
func (w *world) won() bool {
	in := func(o object, kind string) bool { return o.loc >= 0 && w.receps[o.loc].kind == kind }
	switch w.taskType {
	case taskLook:
		if w.held < 0 || w.objs[w.held].kind != w.target {
			return false
		}
		for _, o := range w.objs {
			if o.lamp && o.on && o.loc == w.at {
				return true
			}
		}
		return false
	case taskTwo:
		n := map[int]int{}
		for _, o := range w.objs {
			if o.kind == w.target && in(o, w.dest) {
				n[o.loc]++
				if n[o.loc] >= 2 {
					return true
				}
			}
		}
		return false
	}
	for _, o := range w.objs {
		if o.kind != w.target || !in(o, w.dest) {
			continue
		}
		switch w.taskType {
		case taskPlace:
			return true
		case taskClean:
			if o.clean {
				return true
			}
		case taskHeat:
			if o.hot {
				return true
			}
		case taskCool:
			if o.cool {
				return true
			}
		}
	}
	return false
}

// apply runs one command: its feedback and whether it was admissible.
func (w *world) apply(cmd string) (string, bool) {
	cmd = envs.NormSpace(cmd)
	f, ok := w.commands()[Canonical(cmd)]
	if !ok {
		return "Nothing happens.", false
	}
	fb := f()
	if strings.HasPrefix(cmd, "move ") {
		// The newer grammar's feedback for the newer verb.
		fb = strings.Replace(strings.Replace(fb, "You put the ", "You move the ", 1), " in/on the ", " to the ", 1)
	}
	return fb, true
}

// oxford joins items ALFWorld-style: "a x, a y, and a z".
func oxford(items []string) string {
	switch len(items) {
	case 0:
		return "nothing"
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + ", and " + items[len(items)-1]
}
