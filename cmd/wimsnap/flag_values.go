package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// swallowedFlag returns a usage error when a flag that takes a value was
// given, as a separate argument, another of the command's flags: in
// "restore latest --target --dry-run" pflag takes "--dry-run" for the
// target, and the dry run the user asked for writes into a directory of
// that name. So is "--" after it (the flags' end, pflag took it for the
// value). A value that starts with '-' and is no flag's name passes,
// and so does any value written --flag=value. args is the command line;
// the scan stops at "--", as flag parsing does.
func swallowedFlag(cmd *cobra.Command, args []string) error {
	fs := cmd.Flags()
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "--" {
			return nil
		}
		f := flagNamed(fs, args[i])
		if f == nil || f.NoOptDefVal != "" {
			continue // not a flag, or one that takes no separate value
		}
		if next := args[i+1]; next == "--" || flagNamed(fs, next) != nil || isFlagWithValue(fs, next) {
			return usagef("--%s needs a value, and the next argument is the flag %s (write --%s=%s if that is the value)",
				f.Name, next, f.Name, next)
		}
		i++ // its value
	}
	return nil
}

// flagNamed returns the flag arg names on its own: "--name" or "-n",
// without a value after '='; nil for anything else.
func flagNamed(fs *pflag.FlagSet, arg string) *pflag.Flag {
	switch {
	case strings.HasPrefix(arg, "--") && !strings.Contains(arg, "="):
		return fs.Lookup(arg[2:])
	case len(arg) == 2 && arg[0] == '-' && arg[1] != '-':
		return fs.ShorthandLookup(arg[1:])
	}
	return nil
}

// isFlagWithValue reports whether arg is "--name=value" for one of fs's
// flags.
func isFlagWithValue(fs *pflag.FlagSet, arg string) bool {
	name, _, ok := strings.Cut(arg, "=")
	return ok && strings.HasPrefix(name, "--") && flagNamed(fs, name) != nil
}

// plainFlagError returns pflag's error for a value a flag refuses as
// '--threads="abc": want a whole number', where pflag said 'invalid
// argument "abc" for "--threads" flag: strconv.ParseInt: parsing "abc":
// invalid syntax'. Other errors it returns as they are.
func plainFlagError(err error) error {
	var bad *pflag.InvalidValueError
	if !errors.As(err, &bad) {
		return err
	}
	f := bad.GetFlag()
	var num *strconv.NumError
	if !errors.As(err, &num) {
		return fmt.Errorf("--%s=%q: %w", f.Name, bad.GetValue(), errors.Unwrap(bad))
	}
	want := "a valid " + f.Value.Type()
	switch f.Value.Type() {
	case "bool":
		want = "true or false"
	case "int", "int64", "int32", "uint", "uint64", "uint32":
		want = "a whole number"
		if errors.Is(num.Err, strconv.ErrRange) {
			want = "a smaller number"
		}
	case "float64", "float32":
		want = "a number"
	}
	return fmt.Errorf("--%s=%q: want %s", f.Name, bad.GetValue(), want)
}

// nonEmpty is a string flag, a file or an address, that refuses an empty
// value: "--output=" rewrote the WIM in place and "--config=" read the
// working directory, as if the flag were left out or named ".".
type nonEmpty string

func (v *nonEmpty) String() string { return string(*v) }
func (v *nonEmpty) Type() string   { return "string" }

func (v *nonEmpty) Set(s string) error {
	if s == "" {
		return errors.New("empty (leave the flag out for its default)")
	}
	*v = nonEmpty(s)
	return nil
}
