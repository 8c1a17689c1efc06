package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/atod-dev/atod/envs"
)

func TestPlayEnvOracle(t *testing.T) {
	for _, name := range []string{"household", "webshop", "searchqa"} {
		env, err := envs.New(name, nil)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := playEnv(env, "train", 3, true, nil, &out); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "won true") {
			t.Fatalf("%s oracle transcript:\n%s", name, out.String())
		}
	}
}

func TestPlayEnvTyped(t *testing.T) {
	env, err := envs.New("household", map[string]any{"max_steps": 2})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := playEnv(env, "train", 3, false, strings.NewReader("look\n<action>inventory</action>\n"), &out); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); !strings.Contains(s, "You are not carrying anything.") || !strings.Contains(s, "step limit 2") {
		t.Fatalf("transcript:\n%s", s)
	}
}
