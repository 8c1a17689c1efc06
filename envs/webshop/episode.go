package webshop

import (
	"fmt"
	"slices"
	"strings"

	"github.com/atod-dev/atod/envs"
)

const (
	pageSearch = iota
	pageResults
	pageItem
	pageDescription
	pageFeatures
	pageDone
)

type episode struct {
	ws      *WebShop
	goal    goal
	page    int
	results []int // product indices of the last search
	pageNo  int   // 1-based results page
	item    int   // product on the item pages
	chosen  map[string]string
	steps   int
	score   float64 // the reward of the purchase
	done    bool
	reset   bool
}

const sep = " [SEP] "

func (e *episode) Reset() (envs.Observation, error) {
	e.page, e.results, e.pageNo, e.item, e.chosen, e.steps, e.done, e.reset = pageSearch, nil, 0, -1, map[string]string{}, 0, false, true
	return e.observe(), nil
}

// onPage says whether the results page shows the product (lowercase ASIN).
func (e *episode) onPage(asin string) bool {
	return e.page == pageResults && slices.Contains(e.clickables(), asin)
}

func (e *episode) pageItems() []int {
	lo := (e.pageNo - 1) * e.ws.pageSize
	return e.results[min(lo, len(e.results)):min(lo+e.ws.pageSize, len(e.results))]
}

// clickables are the lowercased buttons of the current page, as WebShop lists them.
func (e *episode) clickables() []string {
	switch e.page {
	case pageResults:
		c := []string{"back to search"}
		if e.pageNo > 1 {
			c = append(c, "< prev")
		}
		if e.pageNo*e.ws.pageSize < len(e.results) {
			c = append(c, "next >")
		}
		for _, i := range e.pageItems() {
			c = append(c, strings.ToLower(e.ws.products[i].ASIN))
		}
		return c
	case pageItem:
		c := []string{"back to search", "< prev"}
		p := &e.ws.products[e.item]
		for _, name := range p.OptionNames {
			c = append(c, p.Options[name]...)
		}
		return append(c, "description", "features", "buy now")
	case pageDescription, pageFeatures:
		return []string{"back to search", "< prev"}
	}
	return nil
}

func (e *episode) observe() envs.Observation {
	var parts []string
	switch e.page {
	case pageSearch:
		parts = []string{"WebShop", "Instruction:", e.goal.Instruction, "Search"}
	case pageResults:
		parts = []string{"Back to Search", fmt.Sprintf("Page %d (Total results: %d)", e.pageNo, len(e.results))}
		if e.pageNo > 1 {
			parts = append(parts, "< Prev")
		}
		if e.pageNo*e.ws.pageSize < len(e.results) {
			parts = append(parts, "Next >")
		}
		for _, i := range e.pageItems() {
			p := &e.ws.products[i]
			parts = append(parts, strings.ToLower(p.ASIN), p.Title, fmt.Sprintf("$%.2f", p.Price))
		}
	case pageItem:
		p := &e.ws.products[e.item]
		parts = []string{"Back to Search", "< Prev"}
		for _, name := range p.OptionNames {
			parts = append(parts, name)
			parts = append(parts, p.Options[name]...)
		}
		parts = append(parts, p.Title, fmt.Sprintf("Price: $%.2f", p.Price), "Rating: N.A.", "Description", "Features", "Buy Now")
	case pageDescription:
		parts = []string{"Back to Search", "< Prev", e.ws.products[e.item].Description}
	case pageFeatures:
		parts = append([]string{"Back to Search", "< Prev"}, e.ws.products[e.item].Features...)
	case pageDone:
		parts = []string{"Thank you for shopping with us!", "Your score (min 0.0, max 1.0)", fmt.Sprintf("%.2f", e.score)}
	}
	obs := envs.Observation{Text: strings.Join(parts, sep)}
	if e.page == pageSearch {
		obs.Admissible = []string{"search[<your query>]"}
	}
	for _, c := range e.clickables() {
		obs.Admissible = append(obs.Admissible, "click["+c+"]")
	}
	return obs
}

// SplitAction splits a WebShop action "name[arg]" as WebShop's regex
// (.+)\[(.+)\] does, the argument in envs.NormSpace form; ok says whether it
// is a search or click with a non-empty argument.
func SplitAction(a string) (name, arg string, ok bool) {
	a = strings.TrimSpace(a)
	i := strings.Index(a, "[")
	if i <= 0 || !strings.HasSuffix(a, "]") || len(a) < i+3 {
		return "", "", false
	}
	name = strings.ToLower(strings.TrimSpace(a[:i]))
	arg = envs.NormSpace(a[i+1 : len(a)-1])
	return name, arg, arg != "" && (name == "search" || name == "click")
}

func (e *episode) Step(action string) (envs.StepResult, error) {
	if err := envs.CheckStep(e.reset, e.done); err != nil {
		return envs.StepResult{}, err
	}
	e.steps++
	var res envs.StepResult
	name, arg, ok := SplitAction(action)
	switch {
	case !ok:
		res.Info.Invalid = true
	case name == "search":
		e.results = e.ws.index.Search(arg, e.ws.maxResults)
		e.page, e.pageNo = pageResults, 1
	case arg == "search" || !slices.Contains(e.clickables(), arg):
		res.Info.Invalid = true
	default:
		res = e.click(arg)
	}
	res.Observation = e.observe()
	if !e.done && e.steps >= e.ws.maxSteps {
		e.done = true
		res.Info.Reason = fmt.Sprintf("step limit %d reached without buying", e.ws.maxSteps)
	}
	res.Done = e.done
	return res, nil
}

func (e *episode) click(arg string) envs.StepResult {
	var res envs.StepResult
	switch arg {
	case "back to search":
		e.page = pageSearch
	case "next >":
		e.pageNo++
	case "< prev":
		switch e.page {
		case pageResults:
			e.pageNo--
		case pageItem:
			e.page = pageResults
		default:
			e.page = pageItem
		}
	case "description":
		e.page = pageDescription
	case "features":
		e.page = pageFeatures
	case "buy now":
		p := &e.ws.products[e.item]
		var chosen []string
		for _, name := range p.OptionNames {
			if v, ok := e.chosen[name]; ok {
				chosen = append(chosen, v)
			}
		}
		r, parts := reward(p, &e.goal, p.Price, chosen)
		e.page, e.done, e.score = pageDone, true, r
		res.Reward = r
		res.Info = envs.Info{Score: r, Won: r == 1, Reason: fmt.Sprintf("bought %s: r_type %.1f, attributes %d/%d, options %d/%d, price ok %v",
			strings.ToLower(p.ASIN), parts.RType, parts.AttrMatches, len(e.goal.Attributes), parts.OptMatches, len(e.goal.Options), parts.PriceOK)}
	default:
		if e.page == pageResults {
			e.item, e.page, e.chosen = e.ws.byASIN[arg], pageItem, map[string]string{}
			return res
		}
		p := &e.ws.products[e.item]
		for _, name := range p.OptionNames {
			if slices.Contains(p.Options[name], arg) {
				e.chosen[name] = arg
				break
			}
		}
	}
	return res
}

func (e *episode) Close() error { return nil }
