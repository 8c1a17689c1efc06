package envs

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Options reads typed values out of a config map (TOML, JSON or command-line
// strings). Int, Float and String return the zero value when key is absent;
// Resolve first fills in the declared defaults.
type Options map[string]any

// Option declares one option of an env: its name, its default (nil when it has
// none or it depends on other options, as Usage then says) and what it means.
// An env's list of them is the one definition of its options' names and defaults.
type Option struct {
	Name    string
	Default any
	Usage   string
}

// Resolve rejects keys that spec does not declare and returns a copy of o with
// every absent key that has a default set to it.
func (o Options) Resolve(spec []Option) (Options, error) {
	known := make([]string, len(spec))
	for i, opt := range spec {
		known[i] = opt.Name
	}
	if err := o.check(known); err != nil {
		return nil, err
	}
	out := Options{}
	for _, opt := range spec {
		if opt.Default != nil {
			out[opt.Name] = opt.Default
		}
	}
	for k, v := range o {
		out[k] = v
	}
	return out, nil
}

// Int reads an integer; a float must be integral, a string must parse.
func (o Options) Int(key string) (int, error) {
	v, ok := o[key]
	if !ok {
		return 0, nil
	}
	switch x := v.(type) {
	case int:
		return x, nil
	case int64:
		return int(x), nil
	case float64:
		if x != float64(int(x)) {
			return 0, fmt.Errorf("option %s: %v is not an integer", key, x)
		}
		return int(x), nil
	case string:
		var n int
		if _, err := fmt.Sscan(x, &n); err != nil {
			return 0, fmt.Errorf("option %s: %q is not an integer", key, x)
		}
		return n, nil
	}
	return 0, fmt.Errorf("option %s: %T is not an integer", key, v)
}

// Float reads a number.
func (o Options) Float(key string) (float64, error) {
	v, ok := o[key]
	if !ok {
		return 0, nil
	}
	switch x := v.(type) {
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case float64:
		return x, nil
	case string:
		var f float64
		if _, err := fmt.Sscan(x, &f); err != nil {
			return 0, fmt.Errorf("option %s: %q is not a number", key, x)
		}
		return f, nil
	}
	return 0, fmt.Errorf("option %s: %T is not a number", key, v)
}

// String reads a string.
func (o Options) String(key string) (string, error) {
	v, ok := o[key]
	if !ok {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("option %s: %T is not a string", key, v)
	}
	return s, nil
}

// List reads a list of strings: a TOML/JSON array, or one comma-separated
// string; items are trimmed and empty ones dropped.
func (o Options) List(key string) ([]string, error) {
	var items []string
	switch x := o[key].(type) {
	case nil:
	case string:
		items = strings.Split(x, ",")
	case []string:
		items = x
	case []any:
		for _, v := range x {
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("option %s: element %T is not a string", key, v)
			}
			items = append(items, s)
		}
	default:
		return nil, fmt.Errorf("option %s: %T is not a list of strings", key, x)
	}
	var out []string
	for _, s := range items {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out, nil
}

// check rejects keys outside known.
func (o Options) check(known []string) error {
	var bad []string
	for k := range o {
		found := false
		for _, n := range known {
			if k == n {
				found = true
				break
			}
		}
		if !found {
			bad = append(bad, k)
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		known = slices.Sorted(slices.Values(known))
		return fmt.Errorf("unknown option(s) %s (known: %s)", strings.Join(bad, ", "), strings.Join(known, ", "))
	}
	return nil
}
