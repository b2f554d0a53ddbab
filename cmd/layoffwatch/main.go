// Command layoffwatch is the one binary of the layoff early-warning
// pipeline; every component is a subcommand. See `layoffwatch --help`.
package main

import "os"

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
