package searchqa

import (
	"testing"

	"github.com/atod-dev/atod/envs/envtest"
)

func FuzzSearchQAStep(f *testing.F) {
	envtest.AddScripts(f, "\n\n\n\n", "<search>who</search>\n<answer>x</answer>", "<search></search>\nhello\n\n", "<answer> The  </answer>")
	env := envtest.New(f, "searchqa", map[string]any{"corpus_size": 100})
	f.Fuzz(func(t *testing.T, seed int64, script string) {
		envtest.FuzzEpisode(t, env, []string{"train", "test"}[uint64(seed)%2], seed, script)
	})
}
