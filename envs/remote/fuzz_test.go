package remote

import (
	"net/http/httptest"
	"testing"

	"github.com/atod-dev/atod/envs"
	"github.com/atod-dev/atod/envs/envtest"
)

// FuzzRemoteStep drives the remote client against a loopback AgentGym-style
// server (envtest.Gym); odd seeds use the WebShop protocol.
func FuzzRemoteStep(f *testing.F) {
	envtest.AddScripts(f, "look\ngo to cabinet 1\n", "search[x]\nclick[next >]\nclick[buy now]\n", "\x00\n\"\n{}\n")
	var remotes [2]envs.Env
	for i, flavor := range []string{"alfworld", "webshop"} {
		g := envtest.NewGym(flavor, envtest.New(f, map[string]string{"alfworld": "household", "webshop": "webshop"}[flavor], map[string]any{}))
		srv := httptest.NewServer(g)
		f.Cleanup(srv.Close)
		remotes[i] = envtest.New(f, "remote", map[string]any{"url": srv.URL, "env": flavor, "timeout": 5, "retries": 0})
	}
	f.Fuzz(func(t *testing.T, seed int64, script string) {
		env := remotes[uint64(seed)%2]
		envtest.FuzzEpisode(t, env, []string{"train", "test"}[uint64(seed)%2], seed, script)
	})
}
