// Package builtin registers atod's built-in envs; import it for its side effect.
package builtin

import (
	_ "github.com/atod-dev/atod/envs/household"
	_ "github.com/atod-dev/atod/envs/remote"
	_ "github.com/atod-dev/atod/envs/searchqa"
	_ "github.com/atod-dev/atod/envs/webshop"
)
