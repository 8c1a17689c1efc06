package webshop

import (
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/atod-dev/atod/envs"
	"github.com/atod-dev/atod/envs/envtest"
)

func TestWebShopOracle(t *testing.T) {
	env := envtest.New(t, "webshop", nil)
	envtest.OracleSolves(t, env, "train", 500)
	envtest.OracleSolves(t, env, "test", 100)
}

func TestWebShopDeterministic(t *testing.T) {
	envtest.Deterministic(t, envtest.New(t, "webshop", nil), "train")
	a := envtest.New(t, "webshop", nil).(*WebShop)
	b := envtest.New(t, "webshop", nil).(*WebShop)
	if !slices.EqualFunc(a.products, b.products, func(x, y product) bool { return x.ASIN == y.ASIN && x.Title == y.Title && x.Price == y.Price }) {
		t.Fatal("same catalog seed, different catalogs")
	}
}

func TestWebShopCatalog(t *testing.T) {
	ws := envtest.New(t, "webshop", nil).(*WebShop)
	if len(ws.products) < 1000 || len(ws.byASIN) != len(ws.products) {
		t.Fatalf("%d products, %d distinct ASINs", len(ws.products), len(ws.byASIN))
	}
	titles := map[string]bool{}
	for _, p := range ws.products {
		if p.Title == "" || p.ProductCategory == "" || len(p.Attributes) == 0 || len(p.OptionNames) == 0 ||
			p.Price <= 0 || p.Description == "" || len(p.Features) == 0 {
			t.Fatalf("incomplete product %+v", p)
		}
		titles[p.Title] = true
	}
	if len(titles) < 900 {
		t.Fatalf("only %d distinct titles", len(titles))
	}
	train, _ := ws.Tasks("train", 500, 1)
	test, _ := ws.Tasks("test", 200, 1)
	seen := map[string]bool{}
	for _, task := range train {
		seen[envtest.FirstObs(t, ws, task)] = true
	}
	for _, task := range test {
		if seen[envtest.FirstObs(t, ws, task)] {
			t.Fatalf("test instruction also in train: %s", envtest.FirstObs(t, ws, task))
		}
	}
}

func TestFuzzRatios(t *testing.T) {
	// Values fuzzywuzzy (with python-Levenshtein) gives.
	for _, c := range []struct {
		a, b string
		set  bool
		want int
	}{
		{"this is a test", "this is a test!", false, 97},
		{"NEW YORK METS", "NEW YORK MEATS", false, 96},
		{"fuzzy was a bear", "fuzzy fuzzy was a bear", true, 100},
		{"new york mets vs atlanta braves", "atlanta braves vs new york mets", true, 100},
		{"8 fl oz", "16 fl oz", true, 83},          // "fl oz" vs "fl oz 8": 2·5/12
		{"paraben free", "sulfate free", true, 58}, // "free paraben" vs "free sulfate": LCS 7, 2·7/24
		{"", "x", true, 0},
	} {
		got := fuzzRatio(c.a, c.b)
		if c.set {
			got = tokenSetRatio(c.a, c.b)
		}
		if got != c.want {
			t.Errorf("ratio(%q, %q) set=%v = %d, want %d", c.a, c.b, c.set, got, c.want)
		}
	}
}

func TestWebShopReward(t *testing.T) {
	shampoo := product{ASIN: "b1", Query: "shampoo", ProductCategory: "beauty & personal care › hair care › shampoo",
		Title: "Lumora Organic Shampoo, Sulfate Free for Dry Hair", Description: "This organic shampoo is sulfate free.",
		Features: []string{"Sulfate free"}, Attributes: []string{"sulfate free", "paraben free"},
		OptionNames: []string{"size", "scent"}, Options: map[string][]string{"size": {"8 fl oz", "16 fl oz"}, "scent": {"lavender", "coconut"}}, Price: 19.99}
	g := goal{ASIN: "b1", Query: "shampoo", Name: shampoo.Title, ProductCategory: shampoo.ProductCategory,
		Attributes: []string{"sulfate free", "dry hair"}, Options: []string{"16 fl oz", "lavender"}, PriceUpper: 30}
	other := product{ASIN: "b2", Query: "conditioner", ProductCategory: "beauty & personal care › hair care › conditioner",
		Title: "Velta Gentle Shampoo, Paraben Free", Description: "This gentle shampoo is paraben free and long lasting.",
		Features: []string{"Paraben free", "Long lasting"}, Attributes: []string{"paraben free", "long lasting"}, Price: 35.99}
	headphones := product{ASIN: "b3", Query: "headphones", ProductCategory: "electronics › audio › headphones",
		Title: "Fenko Wireless Headphones", Attributes: []string{"noise cancelling"}, Price: 9.99}
	for _, c := range []struct {
		name   string
		p      *product
		chosen []string
		want   float64
	}{
		// Nouns {lumora shampoo sulfate hair} all shared: r_type 1. "sulfate free" is an attribute,
		// "dry hair" a substring of the title; both options; 19.99 ≤ 30: (2+2+1)/(2+2+1).
		{"full", &shampoo, []string{"16 fl oz", "lavender"}, 1},
		// Title nouns share "shampoo" (1/4 > 0.2): r_type 1. Attributes 0/2 (token_set_ratio 58 < 85,
		// no substring), options: "8 fl oz"~"16 fl oz" is 83 ≤ 85, lavender matches: 1/2; 35.99 > 30:
		// (0+1+0)/5.
		{"partial", &other, []string{"8 fl oz", "lavender"}, 0.2},
		// No shared title noun: r_type 0, whatever else matches.
		{"zero", &headphones, []string{"16 fl oz", "lavender"}, 0},
	} {
		got, parts := reward(c.p, &g, c.p.Price, c.chosen)
		if math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s: reward %v, want %v (%+v)", c.name, got, c.want, parts)
		}
	}
	// r_type 0.5: neither query nor ≥2 category levels match, and the title score is in [0.1, 0.2].
	long := g
	long.Name = "Alpha Beta Gamma Delta Epsilon Shampoo"
	odd := product{Query: "soap", ProductCategory: "x › y", Title: "Shampoo Bar", Price: 1}
	got, parts := reward(&odd, &long, odd.Price, nil)
	// title score 1/6; price only: 0.5·(0+0+1)/5.
	if parts.RType != 0.5 || math.Abs(got-0.1) > 1e-12 {
		t.Errorf("r_type %v reward %v, want 0.5 and 0.1", parts.RType, got)
	}
}

func TestWebShopPages(t *testing.T) {
	env := envtest.New(t, "webshop", map[string]any{"page_size": 3, "max_steps": 14})
	tasks, _ := env.Tasks("train", 1, 9)
	ep, _ := env.Open(tasks[0])
	obs, _ := ep.Reset()
	if !strings.HasPrefix(obs.Text, "WebShop [SEP] Instruction: [SEP] ") || !slices.Equal(obs.Admissible, []string{"search[<your query>]"}) {
		t.Fatalf("search page %q %q", obs.Text, obs.Admissible)
	}
	step := func(a string, invalid bool, want ...string) envs.StepResult {
		t.Helper()
		r, err := ep.Step(a)
		if err != nil {
			t.Fatal(err)
		}
		if r.Info.Invalid != invalid {
			t.Fatalf("%s: invalid %v, want %v (%q)", a, r.Info.Invalid, invalid, r.Text)
		}
		for _, w := range want {
			if !strings.Contains(r.Text, w) {
				t.Fatalf("%s: page %q lacks %q", a, r.Text, w)
			}
		}
		return r
	}
	step("click[buy now]", true)
	step("search", true)
	r := step("search[shampoo]", false, "Page 1 (Total results: ", "Next >")
	if strings.Contains(r.Text, "< Prev") || len(r.Admissible) != 2+3 {
		t.Fatalf("results page 1: %q %q", r.Text, r.Admissible)
	}
	step("click[search]", true)
	step("click[< prev]", true)
	step("click[next >]", false, "Page 2", "< Prev")
	r = step("click[< prev]", false, "Page 1")
	asin := strings.TrimPrefix(strings.TrimSuffix(r.Admissible[len(r.Admissible)-1], "]"), "click[")
	r = step("click["+asin+"]", false, "Description", "Buy Now", "Price: $")
	step("click[description]", false, "< Prev")
	step("click[< prev]", false, "Buy Now")
	step("click[features]", false, "< Prev")
	step("click[back to search]", false, "Instruction:")
	step("search[zzzqqq]", false, "Total results: 0")
	r = step("look around", true)
	if !r.Done || r.Info.Reason == "" {
		t.Fatalf("step limit: %+v", r.Info)
	}
}

func TestWebShopRealFiles(t *testing.T) {
	dir := "testdata/webshop/"
	for _, human := range []string{"", dir + "items_human_ins_3.json"} {
		opts := map[string]any{"products_file": dir + "items_shuffle_3.json", "attributes_file": dir + "items_ins_3.json", "test_goals": 1}
		if human != "" {
			opts["human_goals_file"] = human
		}
		ws := envtest.New(t, "webshop", opts).(*WebShop)
		if len(ws.products) != 3 {
			t.Fatalf("%d products, want 3 (duplicate ASIN skipped)", len(ws.products))
		}
		p := ws.products[ws.byASIN["b07abc1234"]]
		if !slices.Equal(p.Options["scent"], []string{"lavender | mint", "coconut"}) || p.Price != 19.99 ||
			ws.products[ws.byASIN["b07xyz9876"]].Price != 45 || !slices.Equal(ws.products[ws.byASIN["b07xyz9876"]].Features, []string{"Long battery life"}) {
			t.Fatalf("parsed %+v", p)
		}
		wantGoals := 4 + 2 + 1 // option combinations
		if human != "" {
			wantGoals = 2
		}
		if len(ws.goals) != wantGoals {
			t.Fatalf("%d goals, want %d", len(ws.goals), wantGoals)
		}
		for _, split := range []string{"train", "test"} {
			tasks, err := ws.Tasks(split, 1, 1)
			if err != nil {
				t.Fatal(err)
			}
			if _, res := envtest.PlayOracle(t, ws, tasks[0]); res.Reward != 1 {
				t.Fatalf("oracle reward %v on real goal (%s)", res.Reward, res.Info.Reason)
			}
		}
	}
	if _, err := envs.New("webshop", map[string]any{"products_file": "testdata/webshop/missing.json"}); err == nil {
		t.Fatal("missing file accepted")
	}
}

// The search oracle acts only on what the pages show: it searches with words
// of the instruction, buys the first listed product priced below the bound
// (paging on only when the page has none), picks options the instruction
// names, and so wins most tasks but not all (it cannot see attributes a title
// leaves out).
func TestWebShopSearchOracle(t *testing.T) {
	ws := envtest.New(t, "webshop", nil).(*WebShop)
	tasks, err := ws.Tasks("train", 300, 5)
	if err != nil {
		t.Fatal(err)
	}
	bound := regexp.MustCompile(`price lower than ([0-9.]+) dollars`)
	won := 0
	for _, task := range tasks {
		var instr string
		var upper float64
		_, res := envtest.PlayWith(t, ws, task, ws.SearchOracle, func(obs envs.Observation, a string) {
			parts := strings.Split(obs.Text, sep)
			switch {
			case instr == "":
				instr = obs.Text
				if upper, err = strconv.ParseFloat(bound.FindStringSubmatch(instr)[1], 64); err != nil {
					t.Fatal(err)
				}
				q, ok := strings.CutPrefix(a, "search[")
				if !ok || !strings.Contains(instr, strings.TrimSuffix(q, "]")) {
					t.Fatalf("%s: first action %q does not search with the instruction's words: %s", task.ID, a, instr)
				}
			case strings.HasPrefix(parts[1], "Page "):
				want := "click[next >]"
				for i := 3; i < len(parts); i++ {
					if p, ok := strings.CutPrefix(parts[i], "$"); ok {
						if price, _ := strconv.ParseFloat(p, 64); price < upper {
							want = "click[" + parts[i-2] + "]"
							break
						}
					}
				}
				if a != want {
					t.Fatalf("%s: on %q plays %q, want %q (bound %.2f)", task.ID, obs.Text, a, want, upper)
				}
			case a != "click[buy now]":
				if o := strings.TrimSuffix(strings.TrimPrefix(a, "click["), "]"); !strings.Contains(instr, ": "+o) {
					t.Fatalf("%s: clicks %q, an option the instruction does not name: %s", task.ID, a, instr)
				}
			}
		})
		if res.Info.Won {
			won++
		}
	}
	if won < len(tasks)/2 || won == len(tasks) {
		t.Fatalf("search oracle won %d of %d tasks: want most, not all", won, len(tasks))
	}
}

// An instruction's type is the department of the product the oracle buys.
func TestWebShopTaskTypes(t *testing.T) {
	ws := envtest.New(t, "webshop", nil).(*WebShop)
	tasks, types := envtest.TaskTypes(t, "webshop", nil, "test", 40)
	click := regexp.MustCompile(`> click\[([^\]]+)\]`)
	seen := map[string]bool{}
	for i, task := range tasks {
		tr, _ := envtest.PlayOracle(t, ws, task)
		bought := ""
		for _, m := range click.FindAllStringSubmatch(strings.Join(tr, "\n"), -1) {
			if p, ok := ws.byASIN[strings.ToLower(m[1])]; ok {
				bought = ws.products[p].ProductCategory
			}
		}
		if !strings.HasPrefix(bought, types[i]+" › ") {
			t.Errorf("%s: type %q, bought a product of %q", task.ID, types[i], bought)
		}
		seen[types[i]] = true
	}
	if len(seen) < 3 {
		t.Errorf("40 instructions of %d departments: %v", len(seen), types)
	}
}
