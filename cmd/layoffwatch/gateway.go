package main

import "github.com/layoffwatch/layoffwatch/gateway"

type gatewayCmd struct {
	gateway.Options `embed:""`
}

func (c *gatewayCmd) Run(e *env) error { return gateway.Run(e.ctx, c.Options, e.log, e.reg) }
