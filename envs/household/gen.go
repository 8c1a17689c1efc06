package household

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/atod-dev/atod/envs"
)

// config sizes the generated homes.
type config struct {
	minRecep, maxRecep int // receptacles per home
	minObj, maxObj     int // distractor objects per home
	maxSteps           int
	types              []int // task types drawn from
}

type recep struct {
	name, kind string
	openable   bool
	open       bool
}

type object struct {
	name, kind       string
	loc              int // receptacle index, -1 when held
	hot, cool, clean bool
	lamp, on         bool // a desklamp: not takeable, used in place
}

// world is a home plus the agent and the goal; copying it (clone) copies the state.
type world struct {
	room     string
	receps   []recep
	objs     []object
	at       int // receptacle the agent stands at, -1 in the middle of the room
	held     int // object in hand, -1 when none
	taskType int
	target   string // object kind
	dest     string // receptacle kind ("" for look)
	goal     string
}

func (w *world) clone() *world {
	c := *w
	c.receps = slices.Clone(w.receps)
	c.objs = slices.Clone(w.objs)
	return &c
}

// layoutKey names a home's layout; held-out layouts are those whose key hashes into the unseen bucket.
func (w *world) layoutKey() string {
	names := make([]string, len(w.receps))
	for i, r := range w.receps {
		names[i] = r.name
	}
	return w.room + ":" + strings.Join(names, ",")
}

// contentKey names the whole task: layout, where every object starts, and the goal.
func (w *world) contentKey() string {
	var b strings.Builder
	b.WriteString(w.layoutKey())
	for _, o := range w.objs {
		fmt.Fprintf(&b, "|%s@%d", o.name, o.loc)
	}
	b.WriteString("|" + w.goal)
	return b.String()
}

func layoutUnseen(w *world) bool    { return envs.Hash64(w.layoutKey())%5 == 0 }
func contentSeenTest(w *world) bool { return envs.Hash64(w.contentKey())%10 == 0 }

// generate draws a home for split from seed. It redraws until the home
// belongs to the split: unseen-test homes have held-out layouts and target
// held-out object kinds; train and seen-test share layouts and kinds and are
// told apart by a hash of the whole task.
func generate(cfg config, split string, seed int64) (*world, error) {
	unseen := split == "unseen-test"
	seenTest := split == "seen-test" || split == "test"
	if !unseen && !seenTest && split != "train" {
		return nil, fmt.Errorf("household: unknown split %q (want train, seen-test, unseen-test or test)", split)
	}
	rng := envs.NewRNG(seed, 0x686f757365)
	for range 100000 {
		w := drawWorld(cfg, rng, unseen)
		if w == nil || layoutUnseen(w) != unseen {
			continue
		}
		if !unseen && contentSeenTest(w) != seenTest {
			continue
		}
		return w, nil
	}
	return nil, fmt.Errorf("household: no %s task found for seed %d with these options", split, seed)
}

// drawWorld draws one candidate home, or nil when the draw is unusable.
func drawWorld(cfg config, rng *rand.Rand, unseen bool) *world {
	tt := envs.Pick(rng, cfg.types)
	room := taskRooms[tt][rng.IntN(len(taskRooms[tt]))]
	allowed := func(k objKind) bool { return strings.IndexByte(k.rooms, room) >= 0 && (unseen || !k.unseen) }
	var targets []string
	for _, k := range objKinds {
		if allowed(k) && k.unseen == unseen && (taskFlag[tt] == 0 || strings.IndexByte(k.flags, taskFlag[tt]) >= 0) {
			targets = append(targets, k.name)
		}
	}
	var pool []recepKind
	for _, k := range recepKinds {
		if strings.IndexByte(k.rooms, room) >= 0 {
			pool = append(pool, k)
		}
	}
	if len(targets) == 0 {
		return nil
	}
	w := &world{room: string(room), at: -1, held: -1, taskType: tt, target: envs.Pick(rng, targets)}

	// The receptacle kinds: the appliance or lamp holder, the destination, then fill.
	count := map[string]int{}
	var kinds []recepKind
	add := func(k recepKind) {
		if count[k.name] < k.max {
			count[k.name]++
			kinds = append(kinds, k)
		}
	}
	kindOf := func(name string) recepKind {
		for _, k := range pool {
			if k.name == name {
				return k
			}
		}
		return recepKind{}
	}
	if a := taskAppliance[tt]; a != "" {
		add(kindOf(a))
	}
	if tt == taskLook {
		var holders []recepKind
		for _, k := range pool {
			if lampHolders[k.name] {
				holders = append(holders, k)
			}
		}
		add(envs.Pick(rng, holders))
	} else {
		var dests []recepKind
		for _, k := range pool {
			if k.place && k.name != taskAppliance[tt] {
				dests = append(dests, k)
			}
		}
		d := envs.Pick(rng, dests)
		w.dest = d.name
		if count[d.name] == 0 {
			add(d)
		}
	}
	n := envs.Between(rng, cfg.minRecep, cfg.maxRecep)
	for tries := 0; len(kinds) < n && tries < 100; tries++ {
		add(envs.Pick(rng, pool))
	}
	// Number each kind from 1, list sorted by name as the first observation shows them.
	seen := map[string]int{}
	for _, k := range kinds {
		seen[k.name]++
		w.receps = append(w.receps, recep{name: fmt.Sprintf("%s %d", k.name, seen[k.name]), kind: k.name, openable: k.openable})
	}
	slices.SortFunc(w.receps, func(a, b recep) int { return strings.Compare(a.name, b.name) })

	// Targets start anywhere objects go, except a receptacle of the destination kind.
	var starts, spots []int
	for i, r := range w.receps {
		if kindOf(r.kind).place {
			spots = append(spots, i)
			if r.kind != w.dest {
				starts = append(starts, i)
			}
		}
	}
	if len(starts) == 0 {
		return nil
	}
	objCount := map[string]int{}
	place := func(kind string, at int, lamp bool) {
		objCount[kind]++
		w.objs = append(w.objs, object{name: fmt.Sprintf("%s %d", kind, objCount[kind]), kind: kind, loc: at, lamp: lamp})
	}
	nTarget := 1
	if tt == taskTwo {
		nTarget = 2
	}
	nTarget += rng.IntN(2) // sometimes a spare of the target kind
	for range nTarget {
		place(w.target, envs.Pick(rng, starts), false)
	}
	if tt == taskLook {
		var holders []int
		for i, r := range w.receps {
			if lampHolders[r.kind] {
				holders = append(holders, i)
			}
		}
		place("desklamp", envs.Pick(rng, holders), true)
	}
	var others []string
	for _, k := range objKinds {
		if allowed(k) && k.name != w.target {
			others = append(others, k.name)
		}
	}
	for range envs.Between(rng, cfg.minObj, cfg.maxObj) {
		place(envs.Pick(rng, others), envs.Pick(rng, spots), false)
	}
	tmpl := goalTemplates[tt][rng.IntN(2)]
	w.goal = fmt.Sprintf(tmpl, w.target, w.dest)
	if tt == taskLook {
		w.goal = fmt.Sprintf(tmpl, w.target)
	}
	return w
}
