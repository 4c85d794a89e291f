package remote_test

import (
	"testing"

	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/remote/remotetest"
)

func TestMemory(t *testing.T) {
	remotetest.Run(t, func(*testing.T) remote.Store { return remote.NewMemory() })
}
