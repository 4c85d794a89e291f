package main

import (
	"strings"
	"testing"
	"time"
)

// TestAgentStatusErrorLine: a job's last error, which may name a file as
// the file system has it ("stat /srv/a\nb: ..."), is one line on the
// status page, as the command's own error would be.
func TestAgentStatusErrorLine(t *testing.T) {
	a, stdout, _ := testApp(nil)
	d := statusDoc{Jobs: []taskStatus{{Name: "nightly", Kind: kindCheck,
		taskState: taskState{LastRun: time.Unix(1e9, 0), LastResult: resultFailed,
			LastError: "stat /srv/a\nnightly: last error: none\x1b[2J"}}}}
	if err := a.printAgentStatus(d); err != nil {
		t.Fatal(err)
	}
	if out := stdout.String(); strings.Contains(out, "\nnightly: last error: none") || !strings.Contains(out, `stat /srv/a\nnightly: last error: none\x1b[2J`) {
		t.Errorf("status page:\n%s\nwant the last error on one line, escaped", out)
	}
}
