package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// The bench helper does for fieldctl bench what needs the server's storage
// package: write a bolt file for pairsyncd to start on (users, org units,
// the directory, records), and time raw bolt commits of the records a
// workload pushed. mobile's import rule (mobile/imports_test.go: nothing
// under mobile/ imports storage/ or server/) keeps that code out of the
// fieldctl binary, so it lives in fieldctl's test files
// (bench_helper_test.go) and runs as the package's test binary:
//
//	go test -c -o bin/fieldctl-bench-helper ./mobile/cmd/fieldctl
//	FIELDCTL_BENCH_JOB=job.json bin/fieldctl-bench-helper -test.run '^TestBenchHelper$'
const envBenchJob = "FIELDCTL_BENCH_JOB"

// helperJob is one job for the helper, as JSON in the file envBenchJob
// names; the helper writes its result as JSON to Result.
type helperJob struct {
	Op      string    `json:"op"` // "seed", "raw-commit", "province-seed" or "province-calls"
	DataDir string    `json:"data_dir"`
	Result  string    `json:"result"`
	Seed    *seedSpec `json:"seed,omitempty"`
	Raw     *rawSpec  `json:"raw,omitempty"`
	// The province workload's jobs (province.go).
	Province      *provinceSpec      `json:"province,omitempty"`
	ProvinceCalls *provinceCallsSpec `json:"province_calls,omitempty"`
}

// seedSpec is what a seeded store holds: org units root → unitA; officers
// officer0001…officerNNNN in unitA and an administrator of root, all with
// Password; pairing groups, each pairing with one counterparty and its
// records.
type seedSpec struct {
	Password string         `json:"password"`
	Officers int            `json:"officers"`
	Admin    string         `json:"admin"`
	Groups   []pairingGroup `json:"groups"`
	RNG      uint64         `json:"rng"`
}

// pairingGroup is Count pairings named Prefix00001…, each holding Records
// records (visits of ~1 KB with two photo references; about one visit in
// four raises an issue, which is accepted in an issue event). Pairing i
// (from 0) has the Per officers officer(First + i*Step + j), j < Per (the
// first one primary); Per 0 makes pairings only administrators see.
type pairingGroup struct {
	Prefix  string `json:"prefix"`
	Count   int    `json:"count"`
	Records int    `json:"records"`
	First   int    `json:"first"`
	Step    int    `json:"step"`
	Per     int    `json:"per"`
}

func (g pairingGroup) pairing(i int) string { return fmt.Sprintf("%s%05d", g.Prefix, i+1) }

func officerName(n int) string { return fmt.Sprintf("officer%04d", n) }

// officers lists the user names of pairing i's officers.
func (g pairingGroup) officers(i int) []string {
	out := make([]string, g.Per)
	for j := range out {
		out[j] = officerName(g.First + i*g.Step + j)
	}
	return out
}

// seedResult is what the helper seeded.
type seedResult struct {
	Records   int     `json:"records"`
	DataBytes int64   `json:"data_bytes"`
	Seconds   float64 `json:"seconds"`
	FileBytes int64   `json:"file_bytes"`
}

// rawSpec: read the records of Group committed after the seeded ones from
// the stopped server's file, then commit the same encoded records to a new
// bolt file (fsync on, as the server runs) in batches of Batch records of
// one pairing.
type rawSpec struct {
	Group pairingGroup `json:"group"`
	Batch int          `json:"batch"`
	Dir   string       `json:"dir"`
}

// rawResult is the raw bolt rate, with and without the receipts a push
// commits beside its records.
type rawResult struct {
	Records        int     `json:"records"`
	Batches        int     `json:"batches"`
	DataBytes      int64   `json:"data_bytes"`
	PerS           float64 `json:"records_per_s"`
	WithReceiptsPS float64 `json:"records_with_receipts_per_s"`
}

// runHelper runs a job in the helper binary and decodes its result.
func runHelper(ctx context.Context, helper string, job helperJob, result any, log io.Writer) error {
	dir, err := os.MkdirTemp("", "fieldctl-bench-job-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	job.Result = filepath.Join(dir, "result.json")
	b, err := json.Marshal(job)
	if err != nil {
		return err
	}
	jobFile := filepath.Join(dir, "job.json")
	if err := os.WriteFile(jobFile, b, 0o600); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, helper, "-test.run", "^TestBenchHelper$", "-test.count", "1", "-test.timeout", "120m")
	cmd.Env = append(os.Environ(), envBenchJob+"="+jobFile)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("bench helper %s: %w", job.Op, err)
	}
	out, err := os.ReadFile(job.Result)
	if err != nil {
		return fmt.Errorf("bench helper %s: no result: %w", job.Op, err)
	}
	return json.Unmarshal(out, result)
}
