//go:build !linux

package remote

import (
	"errors"
	"os"
)

// linkTemp reports errors.ErrUnsupported: only Linux links a file by its
// descriptor. PutFile then copies.
func linkTemp(*os.File, os.FileInfo, string) (string, error) { return "", errors.ErrUnsupported }
