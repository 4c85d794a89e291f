package main

import (
	"os"
	"path/filepath"

	"github.com/wimsnap/wimsnap/wim"
)

// lookupFunc reads one environment variable, like os.LookupEnv. It is
// injected so that argument resolution can be tested without touching the
// process environment.
type lookupFunc func(key string) (string, bool)

// The ConfigMgr task sequence variables that `capture` and `append` honour
// when the matching argument or flag is absent.
const (
	envCaptureDestination = "OSDCaptureDestination"     // WIMFILE
	envCaptureAccount     = "OSDCaptureAccount"         // user for the destination
	envCapturePassword    = "OSDCaptureAccountPassword" // password for the destination
	envImageCreator       = "OSDImageCreator"           // --creator
	envImageDescription   = "OSDImageDescription"       // --description
	envImageVersion       = "OSDImageVersion"           // --version
	envTargetSystemRoot   = "OSDTargetSystemRoot"       // SOURCE: the volume of this Windows directory
)

// osdVars holds the ConfigMgr variables. An empty value counts as unset.
type osdVars struct {
	Destination string
	Creator     string
	Description string
	Version     string
	SystemRoot  string
	Account     credentials
}

// credentials are the destination's account and password. They are kept for
// remote destinations and must never be printed: String and GoString hide
// the password.
type credentials struct {
	User     string
	Password string
}

func (c credentials) String() string {
	if c.Password == "" {
		return "user=" + c.User
	}
	return "user=" + c.User + " password=<redacted>"
}

// GoString keeps %#v from printing the password.
func (c credentials) GoString() string { return "credentials{" + c.String() + "}" }

// readOSD reads the ConfigMgr variables through lookup.
func readOSD(lookup lookupFunc) osdVars {
	get := func(key string) string {
		if lookup == nil {
			return ""
		}
		v, _ := lookup(key)
		return v
	}
	return osdVars{
		Destination: get(envCaptureDestination),
		Creator:     get(envImageCreator),
		Description: get(envImageDescription),
		Version:     get(envImageVersion),
		SystemRoot:  get(envTargetSystemRoot),
		Account:     credentials{User: get(envCaptureAccount), Password: get(envCapturePassword)},
	}
}

// checkText refuses, as checkImageText refuses such a flag, an
// OSDImageCreator, OSDImageDescription or OSDImageVersion that is not
// valid UTF-8 or holds a control character other than white space
// (wim.CheckText; a usage error naming the variable), unless the matching
// flag, which takes its place, is given (changed reports that). Such a
// value would reach the image's XML as U+FFFD.
func (v osdVars) checkText(changed func(flag string) bool) error {
	for _, c := range []struct{ flag, name, value string }{
		{"creator", envImageCreator, v.Creator},
		{"description", envImageDescription, v.Description},
		{"version", envImageVersion, v.Version},
	} {
		if changed(c.flag) {
			continue
		}
		if err := wim.CheckText(c.value); err != nil {
			return usagef("%s %w", c.name, err)
		}
	}
	return nil
}

// isDirFunc reports whether path is a directory, like os.Stat; injected so
// that argument resolution can be tested without the file system.
type isDirFunc func(path string) bool

// isDir is the isDirFunc of the real file system.
func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

// osdTree is the tree to capture for OSDTargetSystemRoot root. ConfigMgr
// sets it to the Windows directory of the system (C:\Windows) and captures
// that system's volume, so when root holds System32 the tree is the
// directory that holds root; otherwise root names the tree itself.
func osdTree(root string, isDir isDirFunc) string {
	if root == "" || !isDir(filepath.Join(root, "System32")) && !isDir(filepath.Join(root, "system32")) {
		return root
	}
	return filepath.Dir(filepath.Clean(root))
}

// resolveCaptureArgs finds SOURCE and WIMFILE for capture and append from
// the positional arguments and the ConfigMgr variables (the tree of
// OSDTargetSystemRoot is osdTree's):
//
//	SOURCE WIMFILE  both given, variables ignored
//	SOURCE          WIMFILE from OSDCaptureDestination; when that is unset
//	                and OSDTargetSystemRoot is set, the one argument is
//	                WIMFILE and SOURCE is OSDTargetSystemRoot's tree
//	(none)          SOURCE from OSDTargetSystemRoot's tree, WIMFILE from
//	                OSDCaptureDestination
//
// A variable that stands in for an argument and names what cannot be one
// (no such directory, a directory as WIMFILE) is a usage error naming the
// variable: in a task sequence the user never typed the path.
func resolveCaptureArgs(args []string, env osdVars, isDir isDirFunc) (source, wimfile string, err error) {
	source, wimfile, err = pickCaptureArgs(args, env, isDir)
	switch {
	case err != nil || len(args) == 2:
	case wimfile == env.Destination && isDir(wimfile):
		err = usagef("$%s=%s is a directory; it names the WIM file to write", envCaptureDestination, envValue(wimfile))
	case source == osdTree(env.SystemRoot, isDir) && !isDir(source):
		err = usagef("$%s=%s: no such directory", envTargetSystemRoot, envValue(env.SystemRoot))
	}
	return source, wimfile, err
}

// pickCaptureArgs is resolveCaptureArgs without its checks of the
// variables.
func pickCaptureArgs(args []string, env osdVars, isDir isDirFunc) (source, wimfile string, err error) {
	tree := osdTree(env.SystemRoot, isDir)
	switch len(args) {
	case 2:
		return args[0], args[1], nil
	case 1:
		if env.Destination != "" {
			return args[0], env.Destination, nil
		}
		if tree != "" {
			return tree, args[0], nil
		}
		return "", "", usagef("missing WIMFILE (give it or set %s)", envCaptureDestination)
	case 0:
		switch {
		case tree == "":
			return "", "", usagef("missing SOURCE (give it or set %s)", envTargetSystemRoot)
		case env.Destination == "":
			return "", "", usagef("missing WIMFILE (give it or set %s)", envCaptureDestination)
		}
		return tree, env.Destination, nil
	}
	return "", "", usagef("too many arguments: want SOURCE WIMFILE, got %s", plural(len(args), "argument"))
}
