//go:build unix

package snapshot

import "github.com/wimsnap/wimsnap/wim"

// pathAt names an entry below the target without a copy of its
// directory's path: the files an apply queues or remembers (jobs, hard-link
// groups, deferred files) would otherwise cost their depth each, which in a
// deep tree of many files is quadratic (a crafted 2.5 MB WIM of 16,000
// nested directories and 5,000 hard-linked files took 1.5 GB).
type pathAt struct {
	dir  *dirPath // nil: the target itself
	name string
}

// dirPath is a directory of the walk below the target: its name and its
// parent's.
type dirPath struct {
	parent *dirPath
	name   string
	depth  int        // components, its own included
	e      *wim.Entry // its entry in the image
}

// level returns how deep d lies below the target: 0 for nil (the target
// itself).
func (d *dirPath) level() int {
	if d == nil {
		return 0
	}
	return d.depth
}

// comps returns the components of d from the target; none for nil (the
// target itself).
func (d *dirPath) comps() []string {
	if d == nil {
		return nil
	}
	return pathAt{dir: d.parent, name: d.name}.comps()
}

// comps returns the components of p from the target.
func (p pathAt) comps() []string {
	n := 1
	if p.dir != nil {
		n += p.dir.depth
	}
	out := make([]string, n)
	out[n-1] = p.name
	for d, i := p.dir, n-2; d != nil; d, i = d.parent, i-1 {
		out[i] = d.name
	}
	return out
}

// here is the entry at a.path, the one the walk is at.
func (a *applier) here() pathAt { return pathAt{dir: a.walkDir, name: a.path[len(a.path)-1]} }

// enter makes the directory e, at a.path, the walk's directory until leave.
func (a *applier) enter(e *wim.Entry) (leave func()) {
	parent := a.walkDir
	a.walkDir = &dirPath{parent: parent, name: a.path[len(a.path)-1], depth: len(a.path), e: e}
	return func() { a.walkDir = parent }
}
