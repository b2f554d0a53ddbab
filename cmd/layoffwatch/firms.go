package main

import (
	"fmt"

	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/firms"
)

type firmsCmd struct {
	Import firmsImportCmd `cmd:"" help:"Validate a registry CSV and upsert it; a file with any bad line loads nothing."`
	List   firmsListCmd   `cmd:"" help:"Print the registry as CSV."`
}

type firmsImportCmd struct {
	ClickHouse chdb.Options `embed:""`
	File       string       `arg:"" help:"Registry CSV: firm_id,name,region,industry,baseline_headcount[,ownership,enrolled_from,enrolled_to]." type:"existingfile"`
}

func (c *firmsImportCmd) Run(e *env) error {
	list, err := readFirms(c.File)
	if err != nil {
		return err
	}
	ch, err := chdb.Open(e.ctx, c.ClickHouse, e.log, false)
	if err != nil {
		return err
	}
	defer ch.Close()
	if err := ch.RequireSchema(e.ctx); err != nil {
		return err
	}
	if err := firms.NewStore(ch).Upsert(e.ctx, list); err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "imported %d firms from %s\n", len(list), c.File)
	return err
}

func readFirms(path string) ([]firms.Firm, error) {
	list, err := firms.LoadFile(path)
	if err != nil {
		return nil, fmt.Errorf("nothing imported: %w", err)
	}
	return list, nil
}

type firmsListCmd struct {
	ClickHouse chdb.Options `embed:""`
}

func (c *firmsListCmd) Run(e *env) error {
	ch, err := chdb.Open(e.ctx, c.ClickHouse, e.log, false)
	if err != nil {
		return err
	}
	defer ch.Close()
	list, err := firms.NewStore(ch).All(e.ctx)
	if err != nil {
		return err
	}
	return firms.WriteCSV(e.stdout, list)
}
