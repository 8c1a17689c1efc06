package searchqa

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/atod-dev/atod/envs/envtest"
)

func TestSearchQAOracle(t *testing.T) {
	env := envtest.New(t, "searchqa", nil)
	envtest.OracleSolves(t, env, "train", 500)
	envtest.OracleSolves(t, env, "test", 100)
}

// The built-in retrieval answers the oracle's lookups for every question: searching each entity on
// a question's chain returns a passage naming the next one, the last the answer.
func TestSearchQARetrievalFindsChain(t *testing.T) {
	for _, opts := range []map[string]any{nil, {"facts_seed": 5}} {
		retrievalFindsChain(t, envtest.New(t, "searchqa", opts).(*SearchQA))
	}
}

func retrievalFindsChain(t *testing.T, env *SearchQA) {
	t.Helper()
	for _, q := range env.corpus.questions {
		for i, h := range q.Hops {
			next := q.Answer
			if i+1 < len(q.Hops) {
				next = q.Hops[i+1]
			}
			ps, _ := env.ret.retrieve(h, env.topK)
			found := false
			for _, p := range ps {
				found = found || strings.Contains(p.Title+" "+p.Text, next)
			}
			if !found {
				t.Fatalf("%q: searching %q does not find %q: %+v", q.Text, h, next, ps)
			}
		}
	}
}

// A facts seed keeps the world's names and questions (so its train and test
// questions are the same texts) and redraws their answers, which the oracle
// still finds by searching.
func TestSearchQAFactsSeed(t *testing.T) {
	base := envtest.New(t, "searchqa", nil).(*SearchQA)
	other := envtest.New(t, "searchqa", map[string]any{"facts_seed": 5}).(*SearchQA)
	envtest.OracleSolves(t, other, "train", 200)
	envtest.OracleSolves(t, other, "test", 50)
	if len(base.corpus.passages) != len(other.corpus.passages) || len(base.corpus.questions) != len(other.corpus.questions) {
		t.Fatalf("facts seed changed the world's size")
	}
	for i, p := range base.corpus.passages {
		if other.corpus.passages[i].Title != p.Title {
			t.Fatalf("passage %d: title %q became %q", i, p.Title, other.corpus.passages[i].Title)
		}
	}
	changed := 0
	for i, q := range base.corpus.questions {
		o := other.corpus.questions[i]
		if o.Text != q.Text || o.Hops[0] != q.Hops[0] {
			t.Fatalf("question %d: %q (first lookup %q) became %q (%q)", i, q.Text, q.Hops[0], o.Text, o.Hops[0])
		}
		if o.Answer != q.Answer {
			changed++
		}
	}
	// A redrawn answer repeats the old one by chance: often for the 7 countries, rarely otherwise.
	if n := len(base.corpus.questions); changed < n*3/4 {
		t.Fatalf("only %d of %d answers changed", changed, n)
	}
}

func TestSearchQAMaxHops(t *testing.T) {
	env := envtest.New(t, "searchqa", map[string]any{"max_hops": 1}).(*SearchQA)
	tasks, _ := env.Tasks("train", 200, 1)
	for _, task := range tasks {
		if q, _ := env.question(task.Split, task.Seed); len(q.Hops) != 1 {
			t.Fatalf("max_hops 1 gave %q", q.Text)
		}
	}
}

func TestSearchQADeterministic(t *testing.T) {
	envtest.Deterministic(t, envtest.New(t, "searchqa", nil), "train")
}

func TestSearchQADistinctAndSplits(t *testing.T) {
	env := envtest.New(t, "searchqa", nil)
	train, err := env.Tasks("train", 2000, 1)
	if err != nil {
		t.Fatal(err)
	}
	qs := map[string]bool{}
	for _, task := range train {
		qs[envtest.FirstObs(t, env, task)] = true
	}
	if len(qs) < 2000 {
		t.Fatalf("%d distinct questions, want 2000", len(qs))
	}
	test, err := env.Tasks("test", 300, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range test {
		if q := envtest.FirstObs(t, env, task); qs[q] {
			t.Fatalf("test question also in train: %s", q)
		}
	}
}

func TestSearchQAAnswers(t *testing.T) {
	for _, c := range []struct {
		pred, gold string
		want       bool
	}{
		{"The Silent Harbor", "silent harbor", true},
		{"  Kaford. ", "Kaford", true},
		{"an apple", "apple", true},
		{"Kafords", "Kaford", false},
		{"", "Kaford", false},
	} {
		if got := exactMatch(c.pred, c.gold); got != c.want {
			t.Errorf("exactMatch(%q, %q) = %v", c.pred, c.gold, got)
		}
	}
	env := envtest.New(t, "searchqa", map[string]any{"max_turns": 3})
	for _, c := range []struct{ reply, action string }{
		{"<think>maybe <answer>x</answer></think> <search> who </search>", "<search>who</search>"},
		{"<search>a</search><answer>b</answer>", "<search>a</search>"},
		{"<answer>b</answer><search>a</search>", "<answer>b</answer>"},
		{"<search>a", ""},
	} {
		a, ok := env.ParseAction(c.reply)
		if a != c.action || ok != (c.action != "") {
			t.Errorf("ParseAction(%q) = %q, %v", c.reply, a, ok)
		}
	}
	tasks, _ := env.Tasks("train", 1, 3)
	ep, _ := env.Open(tasks[0])
	ep.Reset()
	r, _ := ep.Step("no tags")
	if !r.Info.Invalid || r.Text != searchR1Invalid || r.Done {
		t.Fatalf("invalid: %+v", r)
	}
	r, _ = ep.Step("<search>University</search>")
	if !strings.HasPrefix(r.Text, "<information>Doc 1(Title: ") || strings.Count(r.Text, "Doc ") != 3 {
		t.Fatalf("information %q", r.Text)
	}
	r, _ = ep.Step("<answer>certainly wrong</answer>")
	if !r.Done || r.Reward != 0 || r.Info.Won {
		t.Fatalf("wrong answer: %+v", r)
	}
}

// retrievalServer speaks Search-R1's /retrieve with one fixed passage.
func retrievalServer(t *testing.T, style string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req map[string]any
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || r.URL.Path != "/retrieve" {
			http.Error(w, "bad", 400)
			return
		}
		if _, ok := req[map[string]string{"search-r1": "queries", "verl-agent": "query"}[style]]; !ok || req["topk"] != 2.0 {
			http.Error(w, "bad request", 400)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"result": [][]map[string]any{{
			{"document": map[string]any{"id": "1", "contents": "\"Kaford\"\nKaford is a city."}, "score": 1.5},
			{"document": map[string]any{"id": "2", "contents": "\"Brekia\"\nBrekia is a country."}, "score": 1.0},
		}}})
	}))
}

func TestSearchQARetrievalServer(t *testing.T) {
	for _, style := range []string{"search-r1", "verl-agent"} {
		srv := retrievalServer(t, style)
		env := envtest.New(t, "searchqa", map[string]any{"retriever_url": srv.URL + "/retrieve", "retriever_style": style, "topk": 2, "timeout": 2, "retries": 1})
		tasks, _ := env.Tasks("test", 1, 1)
		ep, _ := env.Open(tasks[0])
		ep.Reset()
		r, err := ep.Step("<search>kaford</search>")
		if err != nil || r.Text != "<information>Doc 1(Title: Kaford) Kaford is a city.\nDoc 2(Title: Brekia) Brekia is a country.</information>" {
			t.Fatalf("%s: %q %v", style, r.Text, err)
		}
		// The server goes away: the episode ends, failed, with the reason, quickly.
		srv.Close()
		start := time.Now()
		r, err = ep.Step("<search>kaford</search>")
		if err != nil || !r.Done || !r.Info.Failed || r.Info.Won || !strings.Contains(r.Info.Reason, "retriever") {
			t.Fatalf("%s: server down: %+v %v", style, r, err)
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("server down took %v", time.Since(start))
		}
	}
}

// A question's type counts the lookups the oracle makes before answering and
// names the relation its text asks about.
func TestSearchQATaskTypes(t *testing.T) {
	env := envtest.New(t, "searchqa", nil)
	tasks, types := envtest.TaskTypes(t, "searchqa", nil, "test", 100)
	asks := map[string]string{"country.capital": "What is the capital of ", "book.author": "Who wrote ",
		"book.author.birthplace.country": "In which country was the author of ", "person.employer.founder": "Who founded the company that "}
	seen := map[string]bool{}
	for i, task := range tasks {
		tr, _ := envtest.PlayOracle(t, env, task)
		searches := strings.Count(strings.Join(tr, "\n"), "> <search>")
		hops, relation, _ := strings.Cut(types[i], "-hop ")
		if hops != fmt.Sprint(searches) {
			t.Errorf("%s: type %q, the oracle searched %d times", tr[0], types[i], searches)
		}
		if p, ok := asks[relation]; ok && !strings.HasPrefix(tr[0], "Question: "+p) {
			t.Errorf("%s: type %q", tr[0], types[i])
		}
		seen[types[i]] = true
	}
	if len(seen) < 8 {
		t.Errorf("100 questions of %d types: %v", len(seen), types)
	}
	if _, one := envtest.TaskTypes(t, "searchqa", map[string]any{"max_hops": 1}, "test", 20); strings.Count(strings.Join(one, ","), "1-hop") != 20 {
		t.Errorf("max_hops = 1: %v", one)
	}
}
