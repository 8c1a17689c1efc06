package searchqa

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/atod-dev/atod/envs"
)

// passage is one retrievable document.
type passage struct{ Title, Text string }

// question is one generated question with the entities an oracle looks up, in
// order, and the relation it asks about, e.g. "book.author.birthplace".
type question struct {
	Text     string
	Answer   string
	Hops     []string
	Relation string
}

// corpus is a generated world of people, places, companies, universities
// and books, written as one passage per entity, and every question it answers uniquely.
type corpus struct {
	passages  []passage
	questions []question
}

var (
	syllables  = strings.Fields("ka lo mi ra ven tor el sa du rin pel ba zo fa ni gor hal ise mar quo te lu brek an od")
	jobs       = strings.Fields("painter engineer chemist architect novelist composer surgeon economist astronomer sculptor")
	bookAdj    = strings.Fields("Silent Crimson Hidden Broken Golden Distant Forgotten Quiet Burning Frozen Hollow Iron Wandering Last Secret Pale Velvet Endless Sunken Bright")
	bookNoun   = strings.Fields("Harbor Garden River Kingdom Mirror Lantern Orchard Tower Voyage Winter Forest Bridge Letter Compass Island Circle Shadow Feather Valley Station")
	coSuffix   = strings.Fields("Labs Industries Systems Foods Motors Works Analytics Textiles")
	citySuffix = strings.Fields("ton ville burg port ford mouth field")
	landSuffix = strings.Fields("ia land stan ora")
)

// genCorpus builds a corpus around people people (the other kinds scale with
// it). A non-zero factsSeed keeps every name and redraws every fact (where a
// person was born, when, for whom they work, who wrote a book): the same
// questions with other answers, where recalling an answer cannot pay and only
// reading the passages does.
func genCorpus(people int, seed, factsSeed int64) *corpus {
	rng := envs.NewRNG(seed, 0x7161)
	used := map[string]bool{}
	name := func(f func() string) string {
		for {
			if n := f(); !used[strings.ToLower(n)] {
				used[strings.ToLower(n)] = true
				return n
			}
		}
	}
	word := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteString(envs.Pick(rng, syllables))
		}
		s := b.String()
		return strings.ToUpper(s[:1]) + s[1:]
	}
	nCountry, nCity, nCo, nUni, nBook := max(3, people/20), max(6, people/5), max(4, people/4), max(3, people/12), max(4, people/2)
	countries := make([]string, nCountry)
	for i := range countries {
		countries[i] = name(func() string { return word(2) + envs.Pick(rng, landSuffix) })
	}
	cities := make([]string, nCity)
	for i := range cities {
		cities[i] = name(func() string { return word(1+rng.IntN(2)) + envs.Pick(rng, citySuffix) })
	}
	// Each kind's facts are drawn by one function: right after its name from
	// the world's seed, and again from the facts seed's when there is one.
	type person struct {
		name                string
		job                 string
		city, co, uni, born int
	}
	personFacts := func(r *rand.Rand, p *person) {
		p.job, p.city, p.co, p.uni, p.born = envs.Pick(r, jobs), r.IntN(nCity), r.IntN(nCo), r.IntN(nUni), 1900+r.IntN(100)
	}
	ps := make([]person, people)
	for i := range ps {
		ps[i].name = name(func() string { return word(2) + " " + word(2) })
		personFacts(rng, &ps[i])
	}
	type company struct {
		name                string
		city, founder, year int
	}
	companyFacts := func(r *rand.Rand, c *company) {
		c.city, c.founder, c.year = r.IntN(nCity), r.IntN(people), 1850+r.IntN(170)
	}
	cos := make([]company, nCo)
	for i := range cos {
		cos[i].name = name(func() string { return word(2) + " " + envs.Pick(rng, coSuffix) })
		companyFacts(rng, &cos[i])
	}
	type uni struct {
		name string
		city int
	}
	uniFacts := func(r *rand.Rand, u *uni) { u.city = r.IntN(nCity) }
	unis := make([]uni, nUni)
	for i := range unis {
		unis[i].name = name(func() string { return word(2) + " University" })
		uniFacts(rng, &unis[i])
	}
	type book struct {
		name         string
		author, year int
	}
	bookFacts := func(r *rand.Rand, b *book) { b.author, b.year = r.IntN(people), 1920+r.IntN(100) }
	books := make([]book, nBook)
	for i := range books {
		books[i].name = name(func() string {
			return "The " + envs.Pick(rng, bookAdj) + " " + envs.Pick(rng, bookNoun) + pickSuffix(rng)
		})
		bookFacts(rng, &books[i])
	}
	cityOrder := make([]int, nCity) // every country gets a city, the first one its capital
	for i := range cityOrder {
		cityOrder[i] = i
	}
	if factsSeed != 0 {
		r := envs.NewRNG(factsSeed, 0x7162)
		cityOrder = r.Perm(nCity)
		for i := range ps {
			personFacts(r, &ps[i])
		}
		for i := range cos {
			companyFacts(r, &cos[i])
		}
		for i := range unis {
			uniFacts(r, &unis[i])
		}
		for i := range books {
			bookFacts(r, &books[i])
		}
	}
	cityCountry := make([]int, nCity)
	for i, c := range cityOrder {
		cityCountry[c] = i % nCountry
	}

	c := &corpus{}
	for i, n := range countries {
		c.passages = append(c.passages, passage{n, fmt.Sprintf("%s is a country. Its capital is %s.", n, cities[cityOrder[i]])})
	}
	for i, n := range cities {
		c.passages = append(c.passages, passage{n, fmt.Sprintf("%s is a city in %s.", n, countries[cityCountry[i]])})
	}
	for _, p := range ps {
		c.passages = append(c.passages, passage{p.name, fmt.Sprintf("%s is %s born in %s in %d. %s studied at %s and works for %s.",
			p.name, withArticle(p.job), cities[p.city], p.born, p.name, unis[p.uni].name, cos[p.co].name)})
	}
	for _, co := range cos {
		c.passages = append(c.passages, passage{co.name, fmt.Sprintf("%s is a company headquartered in %s, founded by %s in %d.",
			co.name, cities[co.city], ps[co.founder].name, co.year)})
	}
	for _, u := range unis {
		c.passages = append(c.passages, passage{u.name, fmt.Sprintf("%s is a university located in %s.", u.name, cities[u.city])})
	}
	for _, b := range books {
		c.passages = append(c.passages, passage{b.name, fmt.Sprintf("%s is a book written by %s, published in %d.", b.name, ps[b.author].name, b.year)})
	}

	q := func(relation, text, answer string, hops ...string) {
		c.questions = append(c.questions, question{text, answer, hops, relation})
	}
	for i, n := range countries {
		q("country.capital", fmt.Sprintf("What is the capital of %s?", n), cities[cityOrder[i]], n)
	}
	for i, n := range cities {
		q("city.country", fmt.Sprintf("In which country is %s?", n), countries[cityCountry[i]], n)
	}
	for _, p := range ps {
		city, co, u := cities[p.city], cos[p.co], unis[p.uni]
		q("person.birthplace", fmt.Sprintf("Where was %s born?", p.name), city, p.name)
		q("person.birth_year", fmt.Sprintf("In what year was %s born?", p.name), fmt.Sprint(p.born), p.name)
		q("person.employer", fmt.Sprintf("Which company does %s work for?", p.name), co.name, p.name)
		q("person.university", fmt.Sprintf("Where did %s study?", p.name), u.name, p.name)
		q("person.birthplace.country", fmt.Sprintf("In which country was %s born?", p.name), countries[cityCountry[p.city]], p.name, city)
		q("person.employer.founder", fmt.Sprintf("Who founded the company that %s works for?", p.name), ps[co.founder].name, p.name, co.name)
		q("person.university.city", fmt.Sprintf("In which city is the university where %s studied?", p.name), cities[u.city], p.name, u.name)
	}
	for _, co := range cos {
		q("company.founder", fmt.Sprintf("Who founded %s?", co.name), ps[co.founder].name, co.name)
		q("company.headquarters", fmt.Sprintf("Where is %s headquartered?", co.name), cities[co.city], co.name)
		q("company.headquarters.country", fmt.Sprintf("In which country is %s headquartered?", co.name), countries[cityCountry[co.city]], co.name, cities[co.city])
		q("company.founder.birthplace", fmt.Sprintf("Where was the founder of %s born?", co.name), cities[ps[co.founder].city], co.name, ps[co.founder].name)
	}
	for _, u := range unis {
		q("university.city", fmt.Sprintf("In which city is %s located?", u.name), cities[u.city], u.name)
	}
	for _, b := range books {
		a := ps[b.author]
		q("book.author", fmt.Sprintf("Who wrote %s?", b.name), a.name, b.name)
		q("book.author.birthplace", fmt.Sprintf("Where was the author of %s born?", b.name), cities[a.city], b.name, a.name)
		q("book.author.employer", fmt.Sprintf("Which company does the author of %s work for?", b.name), cos[a.co].name, b.name, a.name)
		q("book.author.birthplace.country", fmt.Sprintf("In which country was the author of %s born?", b.name), countries[cityCountry[a.city]], b.name, a.name, cities[a.city])
	}
	return c
}

// pickSuffix keeps book titles unique once the adjective–noun pairs run out.
func pickSuffix(rng *rand.Rand) string {
	if rng.IntN(3) == 0 {
		return " of " + strings.ToUpper(envs.Pick(rng, syllables)[:1]) + envs.Pick(rng, syllables)[1:] + envs.Pick(rng, syllables)
	}
	return ""
}

func withArticle(noun string) string {
	if strings.ContainsRune("aeiou", rune(noun[0])) {
		return "an " + noun
	}
	return "a " + noun
}
