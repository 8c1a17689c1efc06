package envs_test

import (
	"testing"

	"github.com/atod-dev/atod/envs"
	"github.com/atod-dev/atod/envs/envtest"
)

func FuzzParseAction(f *testing.F) {
	for _, s := range []string{"<action>go to cabinet 1</action>", "<think>x</think><action>click[buy now]</action>",
		"<search>who</search>", "<answer>a</answer>", "<think><action>a</action>", "<action>\x00</action>", "<search></search><answer>"} {
		f.Add(s)
	}
	all := []envs.Env{envtest.New(f, "household", nil), envtest.New(f, "searchqa", map[string]any{"corpus_size": 20}),
		envtest.New(f, "remote", map[string]any{"url": "http://127.0.0.1:1"})}
	f.Fuzz(func(t *testing.T, reply string) {
		for _, env := range all {
			a, ok := env.ParseAction(reply)
			if ok != (a != "") || len(a) > len(reply)+64 {
				t.Fatalf("%s: ParseAction(%q) = %q, %v", env.Name(), reply, a, ok)
			}
			// A parsed action, written back as a reply, parses to itself.
			if ok && env.Name() != "searchqa" {
				if b, ok2 := env.ParseAction(envs.ActionReply(a)); !ok2 || b != a {
					t.Fatalf("%s: %q reparsed as %q", env.Name(), a, b)
				}
			}
		}
	})
}
