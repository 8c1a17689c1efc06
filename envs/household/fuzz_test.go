package household

import (
	"testing"

	"github.com/atod-dev/atod/envs/envtest"
)

func FuzzHouseholdStep(f *testing.F) {
	envtest.AddScripts(f, "\n\n\n\n\n\n\n\n\n\n\n\n", "look\ninventory\ngo to cabinet 1\nopen cabinet 1\n", "\n\nput x in/on y\nmove a to b\n\n\n\n",
		"take  apple 1   from countertop 1\nexamine\nuse desklamp 1\n\x00\n")
	env := envtest.New(f, "household", map[string]any{"max_steps": 30})
	splits := []string{"train", "seen-test", "unseen-test"}
	f.Fuzz(func(t *testing.T, seed int64, script string) {
		envtest.FuzzEpisode(t, env, splits[uint64(seed)%3], seed, script)
	})
}
