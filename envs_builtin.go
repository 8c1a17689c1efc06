package main

import _ "github.com/atod-dev/atod/envs/builtin"
