package main

import (
	"github.com/layoffwatch/layoffwatch/ingest"
	"github.com/layoffwatch/layoffwatch/internal/chdb"
)

type ingestCmd struct {
	ingest.Options `embed:""`
}

func (c *ingestCmd) Run(e *env) error { return ingest.Run(e.ctx, c.Options, e.log, e.reg) }

type migrateCmd struct {
	ClickHouse chdb.Options `embed:""`
}

func (c *migrateCmd) Run(e *env) error {
	ch, err := chdb.Open(e.ctx, c.ClickHouse, e.log, true)
	if err != nil {
		return err
	}
	defer ch.Close()
	res, err := ch.Migrate(e.ctx)
	for _, m := range res.Applied {
		e.log.Info("migration applied", "version", m.Version, "name", m.Name)
	}
	if err != nil {
		return err
	}
	e.log.Info("schema is current", "database", c.ClickHouse.Database, "version", res.Current)
	return nil
}
