package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/layoffwatch/layoffwatch/detector"
)

type detectCmd struct {
	detector.Options `embed:""`
}

// Run runs the detector; SIGHUP asks it to read the plan file again.
func (c *detectCmd) Run(e *env) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := make(chan struct{}, 1)
	go func() {
		for {
			select {
			case <-e.ctx.Done():
				return
			case <-hup:
				select {
				case reload <- struct{}{}:
				default: // a reload is already waiting
				}
			}
		}
	}()
	c.Reload = reload
	return detector.Run(e.ctx, c.Options, e.log, e.reg)
}
