package envs

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
)

// NewRNG is the deterministic generator behind every task: two 64-bit keys, no global state.
func NewRNG(seed int64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), stream))
}

// Hash64 is FNV-1a over s; split buckets are decided by it, from content, so
// splits cannot overlap.
func Hash64(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// Pick returns a random element of xs.
func Pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

// Between returns a random integer in [lo, hi].
func Between(rng *rand.Rand, lo, hi int) int { return lo + rng.IntN(hi-lo+1) }

// taskSeed derives the i-th task seed of a Tasks call (splitmix64 finaliser).
func taskSeed(seed int64, i int) int64 {
	z := uint64(seed) + uint64(i+1)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return int64((z ^ (z >> 31)) >> 1)
}

// DrawTasks is Env.Tasks for an env that regenerates a task from its seed:
// it returns n tasks of split with distinct content, where key(seed) names a
// task's content and seeds whose content was already drawn are skipped.
func DrawTasks(env, split string, n int, seed int64, key func(seed int64) (string, error)) ([]Task, error) {
	if n < 0 {
		return nil, fmt.Errorf("tasks: n = %d", n)
	}
	seen := make(map[string]bool, n)
	tasks := make([]Task, 0, n)
	for i := 0; len(tasks) < n; i++ {
		if i > 20*n+1000 {
			return nil, fmt.Errorf("tasks: only %d distinct %s tasks found, %d asked", len(tasks), split, n)
		}
		s := taskSeed(seed, i)
		k, err := key(s)
		if err != nil {
			return nil, err
		}
		if seen[k] {
			continue
		}
		seen[k] = true
		tasks = append(tasks, Task{Env: env, ID: fmt.Sprintf("%s/%s/%d", env, split, s), Split: split, Seed: s})
	}
	return tasks, nil
}
