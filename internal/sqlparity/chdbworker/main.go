// Command chdbworker runs SQL on ClickHouse in-process (chDB, the current
// engine) for the SQL-parity test (internal/sqlparity), which starts it as a
// child process so that the engine's time zone (TZ) and its one session per
// process belong to the child, and so that no other package of layoffwatch
// links the engine's Go binding.
//
// It reads requests from stdin, one JSON object a line ({"sql": "…"}), runs
// each in one session on the data directory given as its argument, and
// answers on file descriptor 3 (the engine may write to stdout) with one
// JSON object a line: {"out": "<TabSeparatedWithNamesAndTypes>"} or
// {"err": "…"}. It exits when stdin closes. The engine is loaded from
// CHDB_LIB_PATH (deploy/local/deps-chdb.sh installs it).
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	"github.com/chdb-io/chdb-go/chdb"
)

type request struct {
	SQL string `json:"sql"`
}

type response struct {
	Out string `json:"out,omitempty"`
	Err string `json:"err,omitempty"`
}

func main() { os.Exit(run()) }

func run() int {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: chdbworker DATA_DIR (requests on stdin, answers on fd 3)")
		return 2
	}
	answers := os.NewFile(3, "answers")
	if answers == nil {
		fmt.Fprintln(os.Stderr, "chdbworker: file descriptor 3 is not open")
		return 2
	}
	sess, err := chdb.NewSession(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "chdbworker: open session:", err)
		return 1
	}
	defer sess.Close()
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 0, 1<<20), 256<<20)
	enc := json.NewEncoder(answers)
	for in.Scan() {
		var req request
		var resp response
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			resp.Err = "bad request: " + err.Error()
		} else if res, err := sess.Query(req.SQL, "TabSeparatedWithNamesAndTypes"); err != nil {
			resp.Err = err.Error()
		} else if res != nil {
			resp.Out = res.String()
			res.Free()
		}
		if err := enc.Encode(resp); err != nil {
			fmt.Fprintln(os.Stderr, "chdbworker: answer:", err)
			return 1
		}
	}
	if err := in.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "chdbworker: read requests:", err)
		return 1
	}
	return 0
}
