// Package webshop is the WebShop-like env, registered as "webshop": a product
// catalog behind BM25 search, the search / results / item / description /
// features / buy pages, and WebShop's reward.
//
// Where it differs from WebShop, on purpose: pages show the instruction only on
// the search page, have no Reviews page, and list page_size results (5) per
// page to keep prompts short. The reward is WebShop's, with fuzz.token_set_ratio
// ported exactly (python-Levenshtein ratio) and spaCy's noun tagging replaced
// by a word list (see nouns). With the real data, a product's price is its
// lowest listed price and goals are shuffled by our own seeded generator.
package webshop

import (
	"fmt"
	"strings"

	"github.com/atod-dev/atod/envs"
	"github.com/atod-dev/atod/envs/bm25"
)

func init() {
	envs.Register("webshop", Options, func(o envs.Options) (envs.Env, error) { return New(o) })
}

// WebShop is the WebShop-like env: a product catalog behind BM25 search, the
// search / results / item / description / features / buy pages, and WebShop's reward.
type WebShop struct {
	products   []product
	byASIN     map[string]int // by lowercase ASIN
	index      *bm25.Index
	pageSize   int
	maxResults int
	maxSteps   int
	// goals is the instruction list when real WebShop files are loaded; its
	// first testGoals entries are the test split. nil: goals are generated.
	goals     []goal
	testGoals int
}

// Options are the options New reads: a generated catalog, or the real WebShop
// data from products_file and attributes_file.
var Options = []envs.Option{
	{Name: "products", Default: 1000, Usage: "generated catalog size (at most 1e6)"},
	{Name: "catalog_seed", Default: 1, Usage: "seed of the generated catalog"},
	{Name: "page_size", Default: 5, Usage: "results per page"},
	{Name: "max_results", Default: 50, Usage: "results a search returns"},
	{Name: "max_steps", Default: 15, Usage: "actions before the episode ends"},
	{Name: "products_file", Default: "", Usage: "the real data's items_shuffle*.json"},
	{Name: "attributes_file", Default: "", Usage: "the real data's items_ins_v2*.json"},
	{Name: "human_goals_file", Default: "", Usage: "the real data's items_human_ins.json (optional)"},
	{Name: "test_goals", Default: 500, Usage: "loaded goals that form the test split"},
}

// New builds the env from its Options.
func New(o envs.Options) (*WebShop, error) {
	o, err := o.Resolve(Options)
	if err != nil {
		return nil, err
	}
	ws := &WebShop{}
	n, err := o.Int("products")
	if err != nil {
		return nil, err
	}
	seed, err := o.Int("catalog_seed")
	if err != nil {
		return nil, err
	}
	if ws.pageSize, err = o.Int("page_size"); err != nil {
		return nil, err
	}
	if ws.maxResults, err = o.Int("max_results"); err != nil {
		return nil, err
	}
	if ws.maxSteps, err = o.Int("max_steps"); err != nil {
		return nil, err
	}
	if ws.pageSize < 1 || ws.maxResults < 1 || ws.maxSteps < 1 || n < 1 || n > 1_000_000 {
		return nil, fmt.Errorf("products, page_size, max_results and max_steps must be positive (products ≤ 1e6)")
	}
	pf, err := o.String("products_file")
	if err != nil {
		return nil, err
	}
	if pf != "" {
		af, err := o.String("attributes_file")
		if err != nil {
			return nil, err
		}
		hf, err := o.String("human_goals_file")
		if err != nil {
			return nil, err
		}
		testGoals, err := o.Int("test_goals")
		if err != nil {
			return nil, err
		}
		if err := ws.load(pf, af, hf, testGoals); err != nil {
			return nil, err
		}
	} else {
		ws.products = genCatalog(n, int64(seed))
	}
	ws.byASIN = map[string]int{}
	docs := make([]string, len(ws.products))
	for i, p := range ws.products {
		ws.byASIN[strings.ToLower(p.ASIN)] = i
		var opts []string
		for _, name := range p.OptionNames {
			opts = append(opts, p.Options[name]...)
		}
		docs[i] = strings.Join([]string{p.Title, p.ProductCategory, strings.Join(p.Attributes, " "), p.Description, strings.Join(opts, " ")}, " ")
	}
	ws.index = bm25.New(docs)
	return ws, nil
}

func (ws *WebShop) Name() string { return "webshop" }

func (ws *WebShop) Instructions() string {
	return "You shop on a website for the product the instruction describes, choose its options, and buy it.\n" +
		"Actions: search[keywords] from any page, or click[button] with a button shown on the page " +
		"(a product id, an option value, next >, < prev, back to search, description, features, buy now).\n" +
		"Write exactly one action inside <action></action>, e.g. <action>search[red cotton t-shirt]</action>."
}

func (ws *WebShop) ParseAction(reply string) (string, bool) { return envs.ParseActionTag(reply) }

func (ws *WebShop) StopStrings() []string { return []string{"</action>"} }

// goal regenerates a task's instruction. Splits: train and test; generated goals
// are split by a hash of the instruction, loaded ones by position.
func (ws *WebShop) goal(split string, seed int64) (goal, error) {
	if split != "train" && split != "test" {
		return goal{}, fmt.Errorf("webshop: unknown split %q (want train or test)", split)
	}
	rng := envs.NewRNG(seed, 0x73686f70)
	if ws.goals != nil {
		lo, hi := 0, ws.testGoals
		if split == "train" {
			lo, hi = ws.testGoals, len(ws.goals)
		}
		if hi <= lo {
			return goal{}, fmt.Errorf("webshop: no %s goals", split)
		}
		return ws.goals[lo+rng.IntN(hi-lo)], nil
	}
	for range 10000 {
		g := goalFor(rng, &ws.products[rng.IntN(len(ws.products))])
		if (envs.Hash64(g.Instruction+"|"+g.ASIN)%10 == 0) == (split == "test") {
			return g, nil
		}
	}
	return goal{}, fmt.Errorf("webshop: no %s goal for seed %d", split, seed)
}

func (ws *WebShop) Tasks(split string, n int, seed int64) ([]envs.Task, error) {
	return envs.DrawTasks(ws.Name(), split, n, seed, func(s int64) (string, error) {
		g, err := ws.goal(split, s)
		return g.ASIN + "|" + g.Instruction, err
	})
}

// TaskType is the department of the product the instruction asks for, the
// first level of its category, e.g. "beauty & personal care" (envs.Typer).
func (ws *WebShop) TaskType(t envs.Task) (string, error) {
	g, err := ws.goal(t.Split, t.Seed)
	if err != nil {
		return "", err
	}
	return strings.ToLower(categoryLevels(g.ProductCategory)[0]), nil
}

func (ws *WebShop) Open(t envs.Task) (envs.Episode, error) {
	g, err := ws.goal(t.Split, t.Seed)
	if err != nil {
		return nil, err
	}
	if _, ok := ws.byASIN[strings.ToLower(g.ASIN)]; !ok {
		return nil, fmt.Errorf("webshop: goal product %s is not in the catalog", g.ASIN)
	}
	return &episode{ws: ws, goal: g}, nil
}
