// Command fieldctl is a command-line field client built on the mobile sync
// engine: sign in, record visits, issues and issue events offline, sync
// them (with their photos), look at what was rejected or is in conflict;
// and, with load, a load generator that runs many simulated phones against
// a server and prints throughput and latency percentiles; with bench, every
// workload of deploy/BENCHMARKS.md against pairsyncd started on seeded stores.
//
//	fieldctl -server https://pairsync.example.cn -user zhang.wei login   # password from PAIRSYNC_PASSWORD
//	fieldctl pairings
//	fieldctl visit -pairing p-17 -notes "走访企业，了解用工需求" -photo site.jpg -issue "招工难:talent"
//	fieldctl sync
//	fieldctl load -server http://127.0.0.1:8080 -devices 50 -users 'officer%03d' -duration 60s
//	fieldctl bench -pairsyncd bin/pairsyncd -out data/bench/latest.json   # make bench
//
// fieldctl help lists the commands; fieldctl COMMAND -h describes one.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}
