package envs

import (
	"fmt"
	"strings"
)

// WebShop is the WebShop-like env: a product catalog behind BM25 search, the
// search / results / item / description / features / buy pages, and WebShop's reward.
type WebShop struct {
	products   []wsProduct
	byASIN     map[string]int // by lowercase ASIN
	index      *bm25
	pageSize   int
	maxResults int
	maxSteps   int
	// goals is the instruction list when real WebShop files are loaded; its
	// first testGoals entries are the test split. nil: goals are generated.
	goals     []wsGoal
	testGoals int
}

// NewWebShop reads the options products (1000, generated catalog size),
// catalog_seed (1), page_size (5 results per page), max_results (50),
// max_steps (15); or, to use the real WebShop data, products_file
// (items_shuffle*.json), attributes_file (items_ins_v2*.json) and optionally
// human_goals_file (items_human_ins.json), with test_goals (500).
func NewWebShop(o options) (*WebShop, error) {
	if err := o.check("products", "catalog_seed", "page_size", "max_results", "max_steps",
		"products_file", "attributes_file", "human_goals_file", "test_goals"); err != nil {
		return nil, err
	}
	ws := &WebShop{}
	var err error
	n, err := o.int("products", 1000)
	if err != nil {
		return nil, err
	}
	seed, err := o.int("catalog_seed", 1)
	if err != nil {
		return nil, err
	}
	if ws.pageSize, err = o.int("page_size", 5); err != nil {
		return nil, err
	}
	if ws.maxResults, err = o.int("max_results", 50); err != nil {
		return nil, err
	}
	if ws.maxSteps, err = o.int("max_steps", 15); err != nil {
		return nil, err
	}
	if ws.pageSize < 1 || ws.maxResults < 1 || ws.maxSteps < 1 || n < 1 || n > 1_000_000 {
		return nil, fmt.Errorf("products, page_size, max_results and max_steps must be positive (products ≤ 1e6)")
	}
	pf, err := o.str("products_file", "")
	if err != nil {
		return nil, err
	}
	if pf != "" {
		af, err := o.str("attributes_file", "")
		if err != nil {
			return nil, err
		}
		hf, err := o.str("human_goals_file", "")
		if err != nil {
			return nil, err
		}
		testGoals, err := o.int("test_goals", 500)
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
	ws.index = newBM25(docs)
	return ws, nil
}

func (ws *WebShop) Name() string { return "webshop" }

func (ws *WebShop) Instructions() string {
	return "You shop on a website for the product the instruction describes, choose its options, and buy it.\n" +
		"Actions: search[keywords] from any page, or click[button] with a button shown on the page " +
		"(a product id, an option value, next >, < prev, back to search, description, features, buy now).\n" +
		"Write exactly one action inside <action></action>, e.g. <action>search[red cotton t-shirt]</action>."
}

func (ws *WebShop) ParseAction(reply string) (string, bool) { return parseActionTag(reply) }

func (ws *WebShop) StopStrings() []string { return []string{"</action>"} }

// goal regenerates a task's instruction. Splits: train and test; generated goals
// are split by a hash of the instruction, loaded ones by position.
func (ws *WebShop) goal(split string, seed int64) (wsGoal, error) {
	if split != "train" && split != "test" {
		return wsGoal{}, fmt.Errorf("webshop: unknown split %q (want train or test)", split)
	}
	rng := newRNG(seed, 0x73686f70)
	if ws.goals != nil {
		lo, hi := 0, ws.testGoals
		if split == "train" {
			lo, hi = ws.testGoals, len(ws.goals)
		}
		if hi <= lo {
			return wsGoal{}, fmt.Errorf("webshop: no %s goals", split)
		}
		return ws.goals[lo+rng.IntN(hi-lo)], nil
	}
	for range 10000 {
		g := goalFor(rng, &ws.products[rng.IntN(len(ws.products))])
		if (hash64(g.Instruction+"|"+g.ASIN)%10 == 0) == (split == "test") {
			return g, nil
		}
	}
	return wsGoal{}, fmt.Errorf("webshop: no %s goal for seed %d", split, seed)
}

func (ws *WebShop) Tasks(split string, n int, seed int64) ([]Task, error) {
	return drawTasks(ws.Name(), split, n, seed, func(s int64) (string, error) {
		g, err := ws.goal(split, s)
		return g.ASIN + "|" + g.Instruction, err
	})
}

func (ws *WebShop) Open(t Task) (Episode, error) {
	g, err := ws.goal(t.Split, t.Seed)
	if err != nil {
		return nil, err
	}
	if _, ok := ws.byASIN[strings.ToLower(g.ASIN)]; !ok {
		return nil, fmt.Errorf("webshop: goal product %s is not in the catalog", g.ASIN)
	}
	return &wsEpisode{ws: ws, goal: g}, nil
}
