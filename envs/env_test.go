package envs_test

import (
	"slices"
	"strings"
	"sync"
	"testing"

	_ "github.com/atod-dev/atod/envs/builtin" // the envs these tests play
	"github.com/atod-dev/atod/envs/envtest"
)

func TestConcurrentEpisodes(t *testing.T) {
	for _, name := range []string{"household", "webshop", "searchqa"} {
		env := envtest.New(t, name, nil)
		tasks, _ := env.Tasks("train", 16, 11)
		want := make([]string, len(tasks))
		for i, task := range tasks {
			tr, _ := envtest.PlayOracle(t, env, task)
			want[i] = strings.Join(tr, "\n")
		}
		var wg sync.WaitGroup
		got := make([]string, len(tasks))
		for i, task := range tasks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tr, _ := envtest.PlayOracle(t, env, task)
				got[i] = strings.Join(tr, "\n")
			}()
		}
		wg.Wait()
		if !slices.Equal(got, want) {
			t.Fatalf("%s: concurrent transcripts differ from sequential ones", name)
		}
	}
}
