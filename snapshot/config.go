package snapshot

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrConfig is wrapped by the errors of ParseConfig.
var ErrConfig = errors.New("snapshot: bad capture configuration")

// Config is a parsed capture configuration file in the WimScript.ini format
// that DISM and wimlib read. Only the sections below matter for capture;
// wimlib's [AlignmentList] and [PrepopulateList] are ignored, and so are
// the lines of a section neither knows, which [Config.Warnings] names.
//
//	[ExclusionList]             globs of paths left out (a directory with its contents)
//	[ExclusionException]        globs kept even when excluded; a matched directory keeps
//	                            all its contents; an anchored one re-includes a path
//	                            inside an excluded directory
//	[CompressionExclusionList]  globs of files whose contents a WIM stores without
//	                            compression, as DISM does (wimlib compresses them):
//	                            Capture uses a sink's AddStoredStream for them when
//	                            it has one (a *wim.Writer); a repository's sink has none
//
// A glob starting with `\` or `/` is anchored at the capture root and
// matches a whole path, one component per component; any other glob
// matches the last component (or the last components, if it has
// separators) of a path at any depth. `*` matches any run of characters
// within one component and `?` one character. Both separators are
// accepted, a drive letter before an absolute glob (`C:\`) is ignored,
// and names compare case-insensitively as on Windows. A Config is
// immutable and safe for concurrent use.
type Config struct {
	exclude    []pattern
	excludeIx  *patternIndex // of a long exclude (indexExclude), else nil
	exceptions []pattern
	noCompress []pattern
	warnings   []string
}

// Warnings returns what ParseConfig read but ignored as a likely mistake,
// one message per case ("line 3: unknown section [ExclusionLst], its lines
// are ignored"), as wimlib warns of them; nil when there is none, as for a
// nil Config (no exclusions, as Excluded takes it).
func (c *Config) Warnings() []string {
	if c == nil {
		return nil
	}
	return slices.Clone(c.warnings)
}

// pattern is one glob, split into its components.
type pattern struct {
	anchored bool
	comps    []string
}

// DefaultConfig returns DISM's default exclusions, relative to the capture
// root, used when no configuration is given, and the working files a
// ConfigMgr task sequence keeps on the volume it captures (its
// _SMSTaskSequence folder and _SMSTSVolumeID marker files).
func DefaultConfig() *Config {
	c := &Config{}
	for _, p := range []string{`\$ntfs.log`, `\hiberfil.sys`, `\pagefile.sys`, `\swapfile.sys`,
		`\System Volume Information`, `\RECYCLER`, `\$Recycle.Bin`, `\Windows\CSC`,
		`\_SMSTaskSequence`, `\_SMSTSVolumeID.*`} {
		c.exclude = append(c.exclude, parsePattern(p))
	}
	return c
}

// ParseConfig reads a WimScript.ini file: UTF-8 or UTF-16LE, each with or
// without a BOM. Lines starting with `;` or `#` are comments; a glob
// may be quoted with " or '. A non-empty line outside any section, and a
// drive-relative glob (`C:file`), are errors wrapping ErrConfig; a glob
// that names no path below the root (`\`) is ignored with a warning.
func ParseConfig(r io.Reader) (*Config, error) {
	raw, err := io.ReadAll(io.LimitReader(r, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("reading capture configuration: %w", err)
	}
	text, err := decodeConfigText(raw)
	if err != nil {
		return nil, err
	}
	c := &Config{}
	var section *[]pattern
	inSection := false
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(nil, len(text)+1)
	for lineNo := 1; sc.Scan(); lineNo++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == ';' || line[0] == '#' {
			continue
		}
		if line[0] == '[' {
			end := strings.IndexByte(line, ']')
			if end < 0 {
				return nil, fmt.Errorf("%w: line %d: unterminated section header %q", ErrConfig, lineNo, line)
			}
			inSection = true
			switch strings.ToLower(strings.TrimSpace(line[1:end])) {
			case "exclusionlist":
				section = &c.exclude
			case "exclusionexception":
				section = &c.exceptions
			case "compressionexclusionlist":
				section = &c.noCompress
			case "alignmentlist", "prepopulatelist":
				section = nil
			default:
				section = nil
				c.warnings = append(c.warnings, fmt.Sprintf("line %d: unknown section %s, its lines are ignored "+
					"(known: [ExclusionList], [ExclusionException], [CompressionExclusionList])", lineNo, line[:end+1]))
			}
			continue
		}
		if !inSection {
			return nil, fmt.Errorf("%w: line %d: \"%s\" is not in a section (such as [ExclusionList])", ErrConfig, lineNo, line)
		}
		if section == nil {
			continue
		}
		if err := c.addLine(section, unquote(line), lineNo); err != nil {
			return nil, err
		}
	}
	c.indexExclude()
	return c, nil
}

// The reasons parseGlob refuses a glob.
var (
	// errDriveRelative: "C:file" is relative to the drive's current
	// directory, which a capture has none of (wimlib refuses it too).
	errDriveRelative = errors.New("a path with a drive letter must be absolute")
	// errNoPath: "\\" or "C:\\" would name the capture root itself.
	errNoPath = errors.New("names no path below the capture root")
)

// parseGlob parses one glob of a section, or fails with errDriveRelative
// or errNoPath.
func parseGlob(glob string) (pattern, error) {
	if len(glob) >= 2 && glob[1] == ':' && isLetter(glob[0]) && (len(glob) == 2 || glob[2] != '\\' && glob[2] != '/') {
		return pattern{}, errDriveRelative
	}
	p := parsePattern(glob)
	if len(p.comps) == 0 {
		return p, errNoPath
	}
	return p, nil
}

// addLine adds the glob of line lineNo to section. A drive-relative glob
// is an error, as in wimlib; one that names no path below the root is
// warned of and ignored.
func (c *Config) addLine(section *[]pattern, glob string, lineNo int) error {
	p, err := parseGlob(glob)
	switch {
	case errors.Is(err, errDriveRelative):
		return fmt.Errorf("%w: line %d: \"%s\": %w (\"%s\\%s\")", ErrConfig, lineNo, glob, err, glob[:2], glob[2:])
	case err != nil:
		c.warnings = append(c.warnings, fmt.Sprintf("line %d: \"%s\" %v, the line is ignored", lineNo, glob, err))
		return nil
	}
	*section = append(*section, p)
	return nil
}

func isLetter(b byte) bool { return b|0x20 >= 'a' && b|0x20 <= 'z' }

// decodeConfigText converts the file's bytes to a string: UTF-16LE when
// it starts with its BOM, or without one when the first character is
// ASCII and so its second byte zero (as wimlib reads it; no UTF-8 text has
// a NUL there), else UTF-8.
func decodeConfigText(raw []byte) (string, error) {
	switch {
	case bytes.HasPrefix(raw, []byte{0xFF, 0xFE}):
		return decodeUTF16LE(raw[2:])
	case bytes.HasPrefix(raw, []byte{0xFE, 0xFF}):
		return "", fmt.Errorf("%w: UTF-16BE is not supported, use UTF-16LE or UTF-8", ErrConfig)
	case len(raw) >= 2 && raw[0] != 0 && raw[0] < utf8.RuneSelf && raw[1] == 0:
		return decodeUTF16LE(raw)
	}
	raw = bytes.TrimPrefix(raw, []byte{0xEF, 0xBB, 0xBF})
	if !utf8.Valid(raw) {
		return "", fmt.Errorf("%w: text is neither UTF-8 nor UTF-16LE", ErrConfig)
	}
	return string(raw), nil
}

// decodeUTF16LE decodes UTF-16LE text without its BOM.
func decodeUTF16LE(raw []byte) (string, error) {
	if len(raw)%2 != 0 {
		return "", fmt.Errorf("%w: UTF-16 text has an odd length", ErrConfig)
	}
	u := make([]uint16, len(raw)/2)
	for i := range u {
		u[i] = uint16(raw[2*i]) | uint16(raw[2*i+1])<<8
	}
	return string(utf16.Decode(u)), nil
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

// parsePattern splits a glob into components, dropping a drive letter.
func parsePattern(s string) pattern {
	if len(s) >= 2 && s[1] == ':' && isLetter(s[0]) {
		s = s[2:]
	}
	s = strings.ReplaceAll(s, `\`, "/")
	p := pattern{anchored: strings.HasPrefix(s, "/")}
	for _, c := range strings.Split(s, "/") {
		if c != "" && c != "." {
			p.comps = append(p.comps, c)
		}
	}
	return p
}

// Exclude adds the globs patterns to the exclusion list, in the syntax of
// an [ExclusionList] line of WimScript.ini. A glob that is drive-relative
// ("C:file") or names no path below the root ("\\", "") is an error
// wrapping ErrConfig, and then none is added. It must not be called while
// the Config is in use by a capture.
func (c *Config) Exclude(patterns ...string) error {
	ps := make([]pattern, 0, len(patterns))
	for _, s := range patterns {
		glob := unquote(strings.TrimSpace(s))
		p, err := parseGlob(glob)
		if err != nil {
			return fmt.Errorf("%w: \"%s\": %w", ErrConfig, glob, err)
		}
		ps = append(ps, p)
	}
	c.exclude = append(c.exclude, ps...)
	c.indexExclude()
	return nil
}

// indexExclude indexes the exclusion list when it is long enough for the
// index to pay (patternIndex); called by whatever changes it.
func (c *Config) indexExclude() {
	c.excludeIx = nil
	if len(c.exclude) >= 16 {
		c.excludeIx = newPatternIndex(c.exclude)
	}
}

// excludes is matchAny(c.exclude, path, depth).
func (c *Config) excludes(path string, depth int) bool {
	if c.excludeIx != nil {
		return c.excludeIx.match(path, depth)
	}
	return matchAny(c.exclude, path, depth)
}

// Excluded reports whether the path rel (relative to the capture root,
// components separated by '/', with or without a leading '/') is left out
// of the capture. isDir tells whether rel is a directory: an excluded
// directory that holds the target of an anchored exception is kept (and
// its other contents are excluded).
func (c *Config) Excluded(rel string, isDir bool) bool {
	if c == nil || len(c.exclude) == 0 {
		return false
	}
	rel = strings.Trim(rel, "/")
	if rel == "" {
		return false
	}
	dir := ""
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		dir = rel[:i]
	}
	return c.excludedIn(c.dirExclusion(dir), rel, isDir)
}

// dirExclusion is what the directory of a path and its ancestors decide
// for everything inside it: Excluded walks the ancestors from the top,
// the first one matched by an exception keeps everything below it, and
// the first one excluded excludes everything below it, except what
// anchored exceptions name. A walk works it out once per directory.
type dirExclusion struct {
	depth         int  // components of the directory
	kept          bool // an exception matches it or an ancestor
	excludedAbove bool // an exclusion does
}

// dirExclusion works out the dirExclusion of dir (relative to the capture
// root, no '/' at either end; "" for the root) from those of its
// ancestors.
func (c *Config) dirExclusion(dir string) dirExclusion {
	var d dirExclusion
	if c == nil || len(c.exclude) == 0 || dir == "" {
		return d
	}
	for end := 0; end <= len(dir) && !d.kept; end++ {
		if end == len(dir) || dir[end] == '/' {
			d = c.dirExclusionIn(d, dir[:end])
		}
	}
	return d
}

// dirExclusionIn returns the dirExclusion of the directory dir (relative
// to the capture root, no '/' at either end), an entry of the directory
// that parent describes: a walk works out each directory's from its
// parent's, the ancestors' prefixes not matched again (which made a
// capture of deep trees with many patterns take minutes).
func (c *Config) dirExclusionIn(parent dirExclusion, dir string) dirExclusion {
	d := parent
	if c == nil || len(c.exclude) == 0 || d.kept {
		return d
	}
	d.depth++
	if matchAny(c.exceptions, dir, d.depth) {
		d.kept = true
		return d
	}
	if !d.excludedAbove && c.excludes(dir, d.depth) {
		d.excludedAbove = true
	}
	return d
}

// excludedIn is Excluded for rel, an entry of the directory d describes
// (rel trimmed of '/').
func (c *Config) excludedIn(d dirExclusion, rel string, isDir bool) bool {
	if c == nil || len(c.exclude) == 0 || d.kept || matchAny(c.exceptions, rel, d.depth+1) {
		return false
	}
	if !d.excludedAbove && !c.excludes(rel, d.depth+1) {
		return false
	}
	return !isDir || !c.exceptionBelow(rel)
}

// exceptionBelow reports whether an anchored exception names a path inside
// the directory dir.
func (c *Config) exceptionBelow(dir string) bool {
	n := strings.Count(dir, "/") + 1
	for _, p := range c.exceptions {
		if p.anchored && len(p.comps) > n && matchComps(p.comps[:n], dir) {
			return true
		}
	}
	return false
}

// NoCompress reports whether the file rel matches [CompressionExclusionList].
func (c *Config) NoCompress(rel string) bool {
	if c == nil || len(c.noCompress) == 0 {
		return false
	}
	rel = strings.Trim(rel, "/")
	return matchAny(c.noCompress, rel, strings.Count(rel, "/")+1)
}

// matchAny reports whether one of ps matches path (no leading '/'), which
// has depth components. The depth rules out most patterns without
// looking at a name: a capture asks about every file.
func matchAny(ps []pattern, path string, depth int) bool {
	for i := range ps {
		if ps[i].match(path, depth) {
			return true
		}
	}
	return false
}

func (p *pattern) match(path string, depth int) bool {
	if p.anchored {
		return len(p.comps) == depth && matchComps(p.comps, path)
	}
	if len(p.comps) > depth {
		return false
	}
	// Match the last len(p.comps) components of path.
	start := len(path) + 1 // just after a virtual '/' at the end
	for range p.comps {
		if start == 0 {
			return false
		}
		start = strings.LastIndexByte(path[:start-1], '/') + 1
	}
	return matchComps(p.comps, path[start:])
}

// matchComps matches the components of path one by one against comps; the
// counts must be equal.
func matchComps(comps []string, path string) bool {
	for i, c := range comps {
		end := strings.IndexByte(path, '/')
		if end < 0 {
			if i != len(comps)-1 {
				return false
			}
			end = len(path)
		} else if i == len(comps)-1 {
			return false
		}
		if !globMatch(c, path[:end]) {
			return false
		}
		if end < len(path) {
			path = path[end+1:]
		}
	}
	return true
}

// globMatch matches one component against a glob with '*' and '?',
// ignoring case.
func globMatch(glob, name string) bool {
	// Iterative matching with backtracking to the last '*'.
	var starG, starN = -1, 0
	g, n := 0, 0
	for n < len(name) {
		if g < len(glob) {
			gc, gw := utf8.DecodeRuneInString(glob[g:])
			nc, nw := utf8.DecodeRuneInString(name[n:])
			switch {
			case gc == '*':
				starG, starN = g, n
				g += gw
				continue
			case gc == '?' || foldEqual(gc, nc, glob[g:g+gw], name[n:n+nw]):
				g += gw
				n += nw
				continue
			}
		}
		if starG < 0 {
			return false
		}
		_, nw := utf8.DecodeRuneInString(name[starN:])
		starN += nw
		g, n = starG+1, starN
	}
	for g < len(glob) && glob[g] == '*' {
		g++
	}
	return g == len(glob)
}

// foldEqual compares two runes ignoring case; invalid UTF-8 compares by
// its bytes.
func foldEqual(a, b rune, as, bs string) bool {
	if a == b {
		return a != utf8.RuneError || as == bs
	}
	return unicode.ToLower(a) == unicode.ToLower(b) || unicode.ToUpper(a) == unicode.ToUpper(b)
}
