// Package sqlparity holds the SQL-parity test: every ClickHouse statement
// layoffwatch issues (the catalogs of internal/chdb and of every component)
// and every Grafana panel and variable query runs on ClickHouse 18.16 (the
// server the other tests use) and on the current engine (ClickHouse 26.7
// in-process through chDB, which production's 25.8 follows), over the same
// data, and must give the same answer.
//
//	simulated province, alerts, notifications, gateway ─► the components' inserts ─┬─► 18.16 (native batches)
//	                                                                                └─► 26.7 (VALUES, same batches)
//	every catalog statement, every dashboard query ─► both ─► same text?
//	   × merges pending / after OPTIMIZE FINAL × server in UTC / Asia/Shanghai
//
// The package has no code of its own: the test is in parity_test.go, and
// chdbworker is the child process that runs the in-process engine (its
// library is installed by deploy/local/deps-chdb.sh; `make test` sets
// CHDB_LIB_PATH). Nothing else in layoffwatch links chDB.
package sqlparity
