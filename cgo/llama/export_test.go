package llama

// Benchmark baselines and test knobs, exported to the external tests only.

func (c *Context) RawGenerate(prompts [][]int32, nGen []int32, temp float32, seed uint64) error {
	return c.rawGenerate(prompts, nGen, temp, seed)
}

func (c *Context) RawPrefill(toks []int32) error { return c.rawPrefill(toks) }

func (c *Context) SetReduce(chunk, threads int) { c.setReduce(chunk, threads) }
