package main

import "github.com/layoffwatch/layoffwatch/detector"

type detectCmd struct {
	detector.Options `embed:""`
}

func (c *detectCmd) Run(e *env) error { return detector.Run(e.ctx, c.Options, e.log, e.reg) }
