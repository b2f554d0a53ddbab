package main

type simulateCmd struct{}

func (simulateCmd) Run(e *env) error { return nil }

type localCmd struct{}

func (localCmd) Run(e *env) error { return nil }
