// Package searchqa is the Search-R1-like env, registered as "searchqa": a
// question, <search>q</search> returning the top-k passages in
// <information>…</information>, and <answer>a</answer> scored by normalised
// exact match.
//
// Where it differs from Search-R1, on purpose: its corpus and questions are
// generated; its built-in retriever is BM25 over title (weighted 3×) and text.
package searchqa

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/atod-dev/atod/envs"
	"github.com/atod-dev/atod/envs/bm25"
	"github.com/atod-dev/atod/envs/httpjson"
)

func init() {
	envs.Register("searchqa", Options, func(o envs.Options) (envs.Env, error) { return New(o) })
}

// SearchQA is the Search-R1-like env: a question, <search>q</search> returning
// the top-k passages in <information>…</information>, and <answer>a</answer>
// scored by normalised exact match.
type SearchQA struct {
	corpus   *corpus
	ret      retriever
	topK     int
	maxTurns int
	maxHops  int
}

// Options are the options New reads: the built-in corpus behind BM25, or a
// Search-R1-style retrieval server at retriever_url.
var Options = []envs.Option{
	{Name: "corpus_size", Default: 400, Usage: "people in the generated corpus (20 to 20000; other entities scale with it)"},
	{Name: "corpus_seed", Default: 1, Usage: "seed of the generated corpus"},
	{Name: "facts_seed", Default: 0, Usage: "non-zero: the corpus's names with every fact redrawn from this seed (the same questions, other answers)"},
	{Name: "topk", Default: 3, Usage: "passages a search returns (1 to 100)"},
	{Name: "max_turns", Default: 4, Usage: "turns before the episode ends"},
	{Name: "max_hops", Default: 3, Usage: "questions need at most this many lookups (1 keeps single-hop ones)"},
	{Name: "retriever_url", Default: "", Usage: "a retrieval server to use instead of the built-in BM25"},
	{Name: "retriever_style", Default: "search-r1", Usage: "the server's protocol: search-r1 or verl-agent"},
	{Name: "timeout", Default: 10, Usage: "seconds per retrieval request"},
	{Name: "retries", Default: 2, Usage: "retries of a failed retrieval request"},
}

// New builds the env from its Options.
func New(o envs.Options) (*SearchQA, error) {
	o, err := o.Resolve(Options)
	if err != nil {
		return nil, err
	}
	size, err := o.Int("corpus_size")
	if err != nil {
		return nil, err
	}
	seed, err := o.Int("corpus_seed")
	if err != nil {
		return nil, err
	}
	facts, err := o.Int("facts_seed")
	if err != nil {
		return nil, err
	}
	q := &SearchQA{}
	if q.topK, err = o.Int("topk"); err != nil {
		return nil, err
	}
	if q.maxTurns, err = o.Int("max_turns"); err != nil {
		return nil, err
	}
	if q.maxHops, err = o.Int("max_hops"); err != nil {
		return nil, err
	}
	if size < 20 || size > 20000 || q.topK < 1 || q.topK > 100 || q.maxTurns < 1 || q.maxHops < 1 {
		return nil, fmt.Errorf("want 20 <= corpus_size <= 20000, 1 <= topk <= 100, max_turns >= 1, max_hops >= 1")
	}
	q.corpus = genCorpus(size, int64(seed), int64(facts))
	url, err := o.String("retriever_url")
	if err != nil {
		return nil, err
	}
	if url == "" {
		docs := make([]string, len(q.corpus.passages))
		for i, p := range q.corpus.passages {
			// The title counts three times: looking an entity up by name finds its own passage.
			docs[i] = strings.Repeat(p.Title+" ", 3) + p.Text
		}
		q.ret = &bm25Retriever{q.corpus.passages, bm25.New(docs)}
		return q, nil
	}
	style, err := o.String("retriever_style")
	if err != nil {
		return nil, err
	}
	if style != "search-r1" && style != "verl-agent" {
		return nil, fmt.Errorf("retriever_style %q (want search-r1 or verl-agent)", style)
	}
	timeout, err := o.Float("timeout")
	if err != nil {
		return nil, err
	}
	retries, err := o.Int("retries")
	if err != nil {
		return nil, err
	}
	if timeout <= 0 || retries < 0 {
		return nil, fmt.Errorf("timeout must be > 0 and retries >= 0")
	}
	q.ret = &serverRetriever{url: url, style: style, http: httpjson.New(httpjson.Config{Timeout: time.Duration(timeout * float64(time.Second)), Retries: retries, Backoff: 50 * time.Millisecond})}
	return q, nil
}

func (q *SearchQA) Name() string { return "searchqa" }

func (q *SearchQA) Instructions() string {
	return "Answer the question. You can search a knowledge base: write <search>query</search> and the top passages " +
		"come back between <information> and </information>. You may search several times. " +
		"When you know the answer, write <answer>answer</answer> with the answer only, a few words."
}

func (q *SearchQA) StopStrings() []string { return []string{"</search>", "</answer>"} }

// ParseAction returns the first <search>…</search> or <answer>…</answer> block (after any <think> block), as written.
func (q *SearchQA) ParseAction(reply string) (string, bool) {
	kind, arg, ok := firstSearchOrAnswer(envs.AfterThink(reply))
	if !ok {
		return "", false
	}
	return "<" + kind + ">" + arg + "</" + kind + ">", true
}

// firstSearchOrAnswer is Search-R1's <(search|answer)>(.*?)</\1>: the earliest complete block.
func firstSearchOrAnswer(s string) (kind, arg string, ok bool) {
	best := -1
	for _, k := range []string{"search", "answer"} {
		for from := 0; ; {
			i := strings.Index(s[from:], "<"+k+">")
			if i < 0 {
				break
			}
			i += from
			body := s[i+len(k)+2:]
			j := strings.Index(body, "</"+k+">")
			if j < 0 {
				break
			}
			if best < 0 || i < best {
				best, kind, arg = i, k, strings.TrimSpace(body[:j])
			}
			break
		}
	}
	return kind, arg, best >= 0
}

// question regenerates a task's question. Splits train and test, by a hash of the question.
func (q *SearchQA) question(split string, seed int64) (question, error) {
	if split != "train" && split != "test" {
		return question{}, fmt.Errorf("searchqa: unknown split %q (want train or test)", split)
	}
	rng := envs.NewRNG(seed, 0x7161)
	for range 10000 {
		qu := q.corpus.questions[rng.IntN(len(q.corpus.questions))]
		if len(qu.Hops) <= q.maxHops && (envs.Hash64(qu.Text)%10 == 0) == (split == "test") {
			return qu, nil
		}
	}
	return question{}, fmt.Errorf("searchqa: no %s question for seed %d", split, seed)
}

func (q *SearchQA) Tasks(split string, n int, seed int64) ([]envs.Task, error) {
	return envs.DrawTasks(q.Name(), split, n, seed, func(s int64) (string, error) {
		qu, err := q.question(split, s)
		return qu.Text, err
	})
}

// TaskType is the question's lookups and relation, e.g. "2-hop
// book.author.birthplace": the author's name, then their passage (envs.Typer).
func (q *SearchQA) TaskType(t envs.Task) (string, error) {
	qu, err := q.question(t.Split, t.Seed)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d-hop %s", len(qu.Hops), qu.Relation), nil
}

func (q *SearchQA) Open(t envs.Task) (envs.Episode, error) {
	qu, err := q.question(t.Split, t.Seed)
	if err != nil {
		return nil, err
	}
	return &episode{env: q, q: qu}, nil
}

// Oracle looks up each entity on the question's chain, then answers.
func (q *SearchQA) Oracle(t envs.Task) (envs.Oracle, error) {
	qu, err := q.question(t.Split, t.Seed)
	if err != nil {
		return nil, err
	}
	if len(qu.Hops)+1 > q.maxTurns {
		return nil, fmt.Errorf("searchqa oracle: %d hops do not fit max_turns %d", len(qu.Hops), q.maxTurns)
	}
	var plan []string
	for _, h := range qu.Hops {
		plan = append(plan, "<search>"+h+"</search>")
	}
	return envs.Replay(append(plan, "<answer>"+qu.Answer+"</answer>")), nil
}

// searchR1Invalid is Search-R1's feedback for a reply with neither block.
const searchR1Invalid = "\nMy previous action is invalid. If I want to search, I should put the query between <search> and </search>. " +
	"If I want to give the final answer, I should put the answer between <answer> and </answer>. Let me try again.\n"

type episode struct {
	env   *SearchQA
	q     question
	steps int
	done  bool
	reset bool
}

func (e *episode) Reset() (envs.Observation, error) {
	e.steps, e.done, e.reset = 0, false, true
	return envs.Observation{Text: "Question: " + e.q.Text}, nil
}

func (e *episode) Step(action string) (envs.StepResult, error) {
	if err := envs.CheckStep(e.reset, e.done); err != nil {
		return envs.StepResult{}, err
	}
	e.steps++
	var res envs.StepResult
	kind, arg, ok := firstSearchOrAnswer(action)
	switch {
	case !ok || arg == "":
		res.Text, res.Info.Invalid = searchR1Invalid, true
	case kind == "answer":
		res.Done, res.Text = true, "Your answer: "+arg
		if exactMatch(arg, e.q.Answer) {
			res.Reward, res.Info.Won, res.Info.Score = 1, true, 1
		}
	default:
		ps, err := e.env.ret.retrieve(arg, e.env.topK)
		if err != nil {
			// The retriever is down: the episode ends, failed, with the reason.
			e.done = true
			res.Done, res.Info.Failed, res.Info.Reason = true, true, "retriever: "+err.Error()
			return res, nil
		}
		var b strings.Builder
		b.WriteString("<information>")
		for i, p := range ps {
			if i > 0 {
				b.WriteByte('\n')
			}
			fmt.Fprintf(&b, "Doc %d(Title: %s) %s", i+1, p.Title, p.Text)
		}
		b.WriteString("</information>")
		res.Text = b.String()
	}
	if !res.Done && e.steps >= e.env.maxTurns {
		res.Done, res.Info.Reason = true, fmt.Sprintf("turn limit %d reached without an answer", e.env.maxTurns)
	}
	e.done = res.Done
	return res, nil
}

func (e *episode) Close() error { return nil }

var (
	articles = regexp.MustCompile(`\b(a|an|the)\b`)
	punct    = regexp.MustCompile(`[!-/:-@\[-` + "`" + `{-~]`)
)

// normalizeAnswer is Search-R1's normalize_answer: lowercase, drop punctuation,
// replace the articles a/an/the by a space, collapse white space.
func normalizeAnswer(s string) string {
	s = strings.ToLower(s)
	s = punct.ReplaceAllString(s, "")
	s = articles.ReplaceAllString(s, " ")
	return strings.Join(strings.Fields(s), " ")
}

func exactMatch(pred string, golds ...string) bool {
	p := normalizeAnswer(pred)
	for _, g := range golds {
		if normalizeAnswer(g) == p {
			return true
		}
	}
	return false
}
