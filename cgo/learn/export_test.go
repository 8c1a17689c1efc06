package learn

// KeepMLPBytes returns c keeping n bytes of MLP inputs: a tiny model's layer
// needs less than the MiB that optim.keep_mlp_mb counts in.
func KeepMLPBytes(c Config, n int64) Config {
	c.keepBytes = n
	return c
}
