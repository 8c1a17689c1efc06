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

func TestEnvListAndOptions(t *testing.T) {
	var out bytes.Buffer
	app := newApp(commands)
	app.Writer = &out
	if err := app.Run([]string{"atod", "env", "list"}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(out.String()); strings.Join(got, " ") != strings.Join(envs.Names(), " ") || len(got) < 4 {
		t.Fatalf("env list printed %q", got)
	}
	out.Reset()
	if err := app.Run([]string{"atod", "env", "options", "household"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"max_steps  ", "50", "task_types", "pick_two"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("env options household lacks %q:\n%s", want, out.String())
		}
	}
	if err := app.Run([]string{"atod", "env", "options", "nethack"}); err == nil {
		t.Error("options of an unknown env")
	}
}
