package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

const agentStatusHelp = `
Show the status of a running agent: each job's last run, its result and
error, its last success and its next run, from the agent's /status page.
The address is --address, else the [status] listen address of --config
(the one the agent bound, from its state file, when the config says port
0). With --json, stdout receives the /status document unchanged:
  {"agent": {"config", "started", "pid", "host"},
   "jobs": [{"name", "kind", "schedule", "running", "run_started",
     "next_run", "last_run", "last_success", "last_result", "last_error",
     "last_duration_seconds", "last_snapshots", "read_data_part",
     "counts": {"runs", "catch_ups", "retries", "skips", "failures"},
     "totals": {...}}]}

Exit codes: 0 when the agent answered, 1 when no agent answers, 2 for a
usage error or a config that does not load.`

func (a *app) newAgentStatusCommand() *cobra.Command {
	var config, address string
	cmd := &cobra.Command{
		Use:   "status [--config=FILE | --address=HOST:PORT]",
		Short: "Show the jobs of a running agent",
		Long:  strings.TrimSpace(agentStatusHelp), // its own exit codes
		Args:  argsBetween(0, 0),
		RunE: a.body(func(ctx context.Context, cmd *cobra.Command, _ []string) error {
			if address == "" {
				var err error
				if address, err = a.agentAddress(config); err != nil {
					return err
				}
			}
			return a.runAgentStatus(ctx, address)
		}),
	}
	config = defaultAgentConfig
	cmd.Flags().Var((*nonEmpty)(&config), "config", "the agent's config file")
	cmd.Flags().Var((*nonEmpty)(&address), "address", "the agent's status address (default: from the config)")
	return cmd
}

// agentAddress finds the status address of the agent of config. It reads
// only [status] and state-file, so that a user who may not read the
// config's credentials may still ask.
func (a *app) agentAddress(config string) (string, error) {
	path, err := filepath.Abs(config)
	if err == nil {
		var b []byte
		if b, err = os.ReadFile(path); err == nil {
			var doc map[string]any
			if doc, err = parseTOML(b); err == nil {
				return a.statusAddress(path, doc)
			}
		}
	}
	return "", usagef("agent config %s: %v", config, err)
}

func (a *app) statusAddress(path string, doc map[string]any) (string, error) {
	var errs []error
	t := newCfgTable("", doc, &errs)
	st := decodeStatus(t.table("status"))
	state := absFrom(filepath.Dir(path), t.str("state-file", ""))
	if len(errs) > 0 {
		return "", usagef("agent config %s: %v", path, errors.Join(errs...))
	}
	if st.listen == "" {
		return "", usagef("%s: the agent serves no status ([status] listen is off)", path)
	}
	if !strings.HasSuffix(st.listen, ":0") {
		return st.listen, nil
	}
	if state == "" {
		var err error
		if state, err = a.defaultStatePath(); err != nil {
			return "", err
		}
	}
	sf, err := readAgentState(state)
	if err != nil || sf.Listen == "" {
		return "", fmt.Errorf("the agent of %s listens on a random port and its state file %s does not name it", path, state)
	}
	return sf.Listen, nil
}

func (a *app) runAgentStatus(ctx context.Context, address string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+address+"/status", nil)
	if err != nil {
		return usagef("--address=%s: %v", address, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("no agent answers at %s: %w", address, err)
	}
	defer resp.Body.Close() //nolint:errcheck // a read body: nothing to lose
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("agent at %s: %w", address, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("agent at %s: %s", address, resp.Status)
	}
	var doc statusDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		return fmt.Errorf("agent at %s: not a status document: %w", address, err)
	}
	if doc.Agent.PID <= 0 || doc.Agent.Started.IsZero() {
		return fmt.Errorf("agent at %s: not a status document (no agent pid and start time): is that address another program's?", address)
	}
	if a.json {
		_, err := a.stdout.Write(body)
		return err
	}
	return a.printAgentStatus(doc)
}

func (a *app) printAgentStatus(d statusDoc) error {
	fmt.Fprintf(a.stdout, "Agent on %s (pid %d, config %s), up since %s\n\n",
		printable(d.Agent.Host), d.Agent.PID, printable(d.Agent.Config), stamp(d.Agent.Started))
	tw := tabwriter.NewWriter(a.stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tKIND\tLAST RUN\tRESULT\tLAST SUCCESS\tNEXT RUN\tRUNS\tFAILED\tSKIPPED")
	for _, j := range d.Jobs {
		result, next := j.LastResult, stamp(j.NextRun)
		if j.Running {
			result, next = "running since "+stamp(j.RunStarted), "-"
		}
		if result == "" {
			result = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\n", j.Name, j.Kind, stamp(j.LastRun), result,
			stamp(j.LastSuccess), next, j.Stats.Runs, j.Stats.Failures, j.Stats.Skips)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, j := range d.Jobs {
		if j.LastError != "" {
			fmt.Fprintf(a.stdout, "\n%s: last error: %s\n", j.Name, oneLine(j.LastError))
		}
	}
	return nil
}

// stamp formats a time for a person, "-" for none.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}
