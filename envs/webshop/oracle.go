package webshop

import (
	"fmt"
	"slices"
	"strings"

	"github.com/atod-dev/atod/envs"
)

// Oracle searches for the target product by its title, pages to it, and buys
// it with the instruction's options.
func (ws *WebShop) Oracle(t envs.Task) (envs.Oracle, error) {
	return ws.oracle(t, func(e *episode) (string, bool) {
		target := strings.ToLower(e.goal.ASIN)
		return target, e.onPage(target)
	}, func(g *goal) string { return strings.ToLower(ws.products[ws.byASIN[strings.ToLower(g.ASIN)]].Title) })
}

// SearchOracle shops as an agent that sees only the pages could: it searches
// with the words of the instruction that name the product (its attributes and
// type), pages through the results to the first product priced below the
// instruction's bound, and buys it with those of the instruction's options it
// offers. It wins only when that product has every asked-for attribute; the
// plain oracle searches for the target's title, which a model can only guess.
func (ws *WebShop) SearchOracle(t envs.Task) (envs.Oracle, error) {
	return ws.oracle(t, func(e *episode) (string, bool) {
		for _, i := range e.pageItems() {
			if p := &ws.products[i]; p.Price < e.goal.PriceUpper {
				return strings.ToLower(p.ASIN), true
			}
		}
		return "", false
	}, func(g *goal) string { return strings.Join(g.Attributes, " and ") + " " + g.Query })
}

// oracle plans on a private episode: search[query(goal)], "next >" until pick
// finds a product on the page, click it, the asked-for options it offers, buy now.
func (ws *WebShop) oracle(t envs.Task, pick func(*episode) (string, bool), query func(*goal) string) (envs.Oracle, error) {
	ep, err := ws.Open(t)
	if err != nil {
		return nil, err
	}
	e := ep.(*episode)
	if _, err := e.Reset(); err != nil {
		return nil, err
	}
	var plan []string
	do := func(a string) error {
		plan = append(plan, a)
		r, err := e.Step(a)
		if err == nil && r.Info.Invalid {
			err = fmt.Errorf("planned %q is invalid", a)
		}
		return err
	}
	if err := do("search[" + query(&e.goal) + "]"); err != nil {
		return nil, err
	}
	for {
		if asin, ok := pick(e); ok {
			if err := do("click[" + asin + "]"); err != nil {
				return nil, err
			}
			break
		}
		if err := do("click[next >]"); err != nil {
			return nil, fmt.Errorf("webshop oracle %s: no product to buy in the results: %w", t.ID, err)
		}
	}
	for _, o := range e.goal.Options {
		if slices.Contains(e.clickables(), o) { // a product other than the target may lack it
			plan = append(plan, "click["+o+"]")
		}
	}
	plan = append(plan, "click[buy now]")
	return envs.ReplayActions(plan), nil
}
