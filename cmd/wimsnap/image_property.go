package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wimsnap/wimsnap/wim"
)

// imagePropertyHelp explains --image-property for capture, append and info.
const imagePropertyHelp = `NAME is an element path of the image's XML information, such as
DISPLAYNAME or WINDOWS/EDITIONID (WINDOWS/LANGUAGES/LANGUAGE[2] is the
second LANGUAGE element), as wimlib-imagex's --image-property takes it:
names are case-sensitive, missing elements are created, and an empty VALUE
removes the element. The counts, sizes and times wimsnap computes (such as
TOTALBYTES) cannot be set. A malformed NAME=VALUE is a usage error (exit 2).`

// imageProperty is one --image-property NAME=VALUE.
type imageProperty struct{ path, value string }

// addImagePropertyFlag adds --image-property to cmd, into props.
func addImagePropertyFlag(cmd *cobra.Command, props *[]string) {
	cmd.Flags().StringArrayVar(props, "image-property", nil,
		"set an element of the image's XML information, as NAME=VALUE (repeatable;\n"+
			"e.g. WINDOWS/EDITIONID=Enterprise); an empty VALUE removes it")
}

// parseImageProperties splits each NAME=VALUE of args; one without '='
// is a usage error. Paths and values are checked where they are set
// (wim.ImageInfo.SetProperty).
func parseImageProperties(args []string) ([]imageProperty, error) {
	ps := make([]imageProperty, 0, len(args))
	for _, a := range args {
		path, value, ok := strings.Cut(a, "=")
		if !ok {
			return nil, usagef("--image-property %s: want NAME=VALUE", printable(a))
		}
		ps = append(ps, imageProperty{path, value})
	}
	return ps, nil
}

// applyProperties sets props on info in order; a property wim refuses is
// a usage error.
func applyProperties(info *wim.ImageInfo, props []imageProperty) error {
	for _, p := range props {
		if err := info.SetProperty(p.path, p.value); err != nil {
			return propertyError(err)
		}
	}
	return nil
}

// setsName reports whether props set the image's NAME, however their
// paths spell it ("NAME", "NAME[1]"): they are set on a probe whose name
// no property can give.
func setsName(props []imageProperty) bool {
	const unset = "\x00" // a control character, which SetProperty refuses
	probe := wim.ImageInfo{Name: unset}
	for _, p := range props {
		_ = probe.SetProperty(p.path, p.value) // what it refuses sets nothing
	}
	return probe.Name != unset
}

// propertyError makes a property wim refuses a usage error.
func propertyError(err error) error {
	if errors.Is(err, wim.ErrProperty) {
		return &usageError{fmt.Errorf("--image-property: %w", err)}
	}
	return err
}
