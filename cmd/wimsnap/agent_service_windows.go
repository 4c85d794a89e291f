//go:build windows

package main

import (
	"context"
	"errors"
	"path/filepath"

	"golang.org/x/sys/windows/svc"
)

// This file runs the agent as a Windows service: the service control
// manager starts it (see docs/agent.md, "Installing as a Windows
// service"), and its stop and shutdown requests end it as Ctrl+C does.

// serviceStopHint is how long the manager is told a stop may take: more
// than the 30 s the agent takes at most.
const serviceStopHint = 40_000 // ms

// asService reports whether the agent runs as a service: asked with
// --service, or started by the service control manager.
func asService(flag bool) (bool, error) {
	if flag {
		return true, nil
	}
	return svc.IsWindowsService()
}

// defaultServiceLog is the log file of the agent run as a service without
// --log-file: %ProgramData%\wimsnap\agent.log.
func defaultServiceLog() string { return filepath.Join(programData(), "wimsnap", "agent.log") }

// runService runs run under the service control manager until it returns
// or the manager asks the service to stop.
func runService(ctx context.Context, run func(context.Context) error) error {
	h := &agentService{ctx: ctx, run: run}
	if err := svc.Run("wimsnap-agent", h); err != nil {
		return err
	}
	return h.err
}

// agentService is the svc.Handler of the agent.
type agentService struct {
	ctx context.Context
	run func(context.Context) error
	err error // what run returned
}

// Execute runs the agent, reporting it running, and cancels it on a stop
// or shutdown request. An agent that fails stops the service with the
// service-specific exit code the command would have: 2 for a config that
// does not load, else 1.
func (s *agentService) Execute(_ []string, req <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	status <- svc.Status{State: svc.StartPending}
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.run(ctx) }()
	status <- svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown}
	for {
		select {
		case s.err = <-done:
			var ue *usageError
			switch {
			case s.err == nil:
				return false, 0
			case errors.As(s.err, &ue):
				return true, 2
			default:
				return true, 1
			}
		case r := <-req:
			switch r.Cmd { //nolint:exhaustive // the service accepts only stop and shutdown
			case svc.Interrogate:
				status <- r.CurrentStatus
			case svc.Stop, svc.Shutdown:
				status <- svc.Status{State: svc.StopPending, WaitHint: serviceStopHint}
				cancel()
			}
		}
	}
}
