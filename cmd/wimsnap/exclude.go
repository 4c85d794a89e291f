package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf16"

	"github.com/wimsnap/wimsnap/snapshot"
)

// defaultConfigText is snapshot.DefaultConfig as a WimScript.ini file: the
// base to which outputExclusion is added when no --config is given.
const defaultConfigText = `[ExclusionList]
\$ntfs.log
\hiberfil.sys
\pagefile.sys
\swapfile.sys
\System Volume Information
\RECYCLER
\$Recycle.Bin
\Windows\CSC
`

// loadCaptureConfig reads the WimScript.ini at path (DISM's defaults when
// path is empty) and adds an exclusion for the file out, which is being
// written, when it lies inside source: a WIM must not capture itself.
func loadCaptureConfig(path, source, out string) (*snapshot.Config, error) {
	exclude := outputExclusion(source, out)
	if exclude == "" {
		return loadConfig(path)
	}
	text := defaultConfigText
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if text, err = configText(raw); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	cfg, err := snapshot.ParseConfig(strings.NewReader(text + "\n[ExclusionList]\n\"" + exclude + "\"\n"))
	if err != nil && path != "" {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, err
}

// loadConfig reads the WimScript.ini at path, or returns DISM's defaults
// when path is empty.
func loadConfig(path string) (*snapshot.Config, error) {
	if path == "" {
		return snapshot.DefaultConfig(), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cfg, err := snapshot.ParseConfig(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// configText decodes a WimScript.ini file's bytes as ParseConfig does
// (UTF-16LE with a BOM, else UTF-8), so that a line can be appended.
func configText(raw []byte) (string, error) {
	if !bytes.HasPrefix(raw, []byte{0xFF, 0xFE}) {
		return string(raw), nil
	}
	raw = raw[2:]
	if len(raw)%2 != 0 {
		return "", errors.New("UTF-16 text has an odd length")
	}
	u := make([]uint16, len(raw)/2)
	for i := range u {
		u[i] = uint16(raw[2*i]) | uint16(raw[2*i+1])<<8
	}
	return string(utf16.Decode(u)), nil
}

// outputExclusion returns the anchored WimScript.ini path (`\dir\name`) of
// out relative to source, or "" when out is not inside source. Symlinks in
// both directories are resolved first.
func outputExclusion(source, out string) string {
	src, err := realPath(source)
	if err != nil {
		return ""
	}
	dir, err := realPath(filepath.Dir(out))
	if err != nil {
		return ""
	}
	rel, err := filepath.Rel(src, filepath.Join(dir, filepath.Base(out)))
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, "../") {
		return ""
	}
	return `\` + strings.ReplaceAll(rel, "/", `\`)
}

func realPath(p string) (string, error) {
	p, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(p)
}
