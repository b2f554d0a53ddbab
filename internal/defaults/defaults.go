// Package defaults reads an options struct's defaults from its kong tags,
// so that a flag's default is written once — in the tag — and both the CLI
// and in-process callers (internal/stack, tests) start from it.
package defaults

import (
	"fmt"

	"github.com/alecthomas/kong"
)

// Of returns T with every flag at its default, as `layoffwatch <name>`
// without flags and without LAYOFFWATCH_* variables would set it. Paths
// (type:"path") resolve against the working directory, as on the command
// line.
func Of[T any](name string) (T, error) {
	var o T
	p, err := kong.New(&o, kong.Name(name), kong.Exit(func(int) {}))
	if err != nil {
		return o, fmt.Errorf("%s options: %w", name, err)
	}
	if _, err := p.Parse(nil); err != nil {
		return o, fmt.Errorf("%s options: %w", name, err)
	}
	return o, nil
}
