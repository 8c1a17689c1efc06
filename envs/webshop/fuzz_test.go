package webshop

import (
	"testing"

	"github.com/atod-dev/atod/envs/envtest"
)

func FuzzWebShopStep(f *testing.F) {
	envtest.AddScripts(f, "\n\n\n\n\n\n\n", "search[red shirt]\nclick[next >]\nclick[< prev]\nclick[back to search]\n",
		"\nclick[next >]\n\nclick[description]\nclick[< prev]\nclick[features]\nclick[buy now]", "click[]\nsearch[]\n[x]\nsearch[[]]\n")
	env := envtest.New(f, "webshop", map[string]any{"products": 200})
	f.Fuzz(func(t *testing.T, seed int64, script string) {
		envtest.FuzzEpisode(t, env, []string{"train", "test"}[uint64(seed)%2], seed, script)
	})
}
