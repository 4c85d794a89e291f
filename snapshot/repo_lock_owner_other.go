//go:build !unix

package snapshot

// processAlive says yes: processMark is empty here, so it is not asked.
func processAlive(int) bool { return true }
