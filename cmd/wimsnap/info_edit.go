package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wimsnap/wimsnap/wim"
)

const infoEditHelp = `

With --name, --description, --image-property or --boot, IMAGE is changed,
as 'wimlib-imagex info WIMFILE IMAGE [NEWNAME [NEWDESC]]' with its
--image-property and --boot changes it, and the image is then shown as
above. --name and --description rename and describe it (as DISM
/Set-ImageName does): a name another image has is refused with exit code 2
(an empty --name removes the name). --image-property NAME=VALUE, which may
be repeated, sets any element of the image's XML information:
` + imagePropertyHelp + `
--boot makes IMAGE the WIM's boot image (the header's boot index); IMAGE
0 with --boot leaves the WIM with no boot image.

When IMAGE already is as asked, WIMFILE is left as it is and so said (in
--json, "changed" is false; it is true after a change).
Otherwise WIMFILE is rebuilt as 'wimsnap delete --help' describes: beside it,
renamed over it once complete (an interrupted run leaves it as it was),
under the lock append holds, its streams copied as they are stored (those
of solid resources compressed again, each on its own); the same files
are refused (exit 1). The other
images, the boot index (but with --boot), the modification times and the
integrity table are kept.`

// infoEdit holds the flags of info's edit form.
type infoEdit struct {
	name, desc       string
	nameSet, descSet bool
	props            []string // --image-property NAME=VALUE
	boot             bool
}

// editing reports whether e changes anything, so that info edits.
func (e infoEdit) editing() bool { return e.nameSet || e.descSet || len(e.props) > 0 || e.boot }

// properties returns e's changes as image properties, in the order they
// are set: --name, --description, then each --image-property. A
// malformed --image-property is a usage error.
func (e infoEdit) properties() ([]imageProperty, error) {
	var ps []imageProperty
	if e.nameSet {
		ps = append(ps, imageProperty{"NAME", e.name})
	}
	if e.descSet {
		ps = append(ps, imageProperty{"DESCRIPTION", e.desc})
	}
	more, err := parseImageProperties(e.props)
	return append(ps, more...), err
}

// runInfoEdit changes image spec of WIMFILE name as e says, then shows
// that image as info does; a WIM that is already as asked is left as it
// is.
func (a *app) runInfoEdit(ctx context.Context, name, spec string, e infoEdit) error {
	if spec == "" {
		return usagef("--name, --description, --image-property and --boot need IMAGE: the image to change")
	}
	props, err := e.properties()
	if err != nil {
		return err
	}
	noBoot := e.boot && isDigits(spec) && strings.Trim(spec, "0") == ""
	if noBoot && len(props) > 0 {
		return usagef("image 0 is no image: with --boot, it takes the boot index away; the other changes need an image")
	}
	index, changed := 0, false
	plan := func(r *wim.Reader) (rewriteSpec, error) {
		p, err := planInfoEdit(r, spec, noBoot, e.boot, props, a.now)
		index, changed = p.index, !p.noop
		return p.rewriteSpec, err
	}
	if _, err := a.editInPlace(ctx, name, rewriteSpec{verb: "info", start: a.now()}, plan); err != nil {
		return err
	}
	if !changed && !a.json {
		fmt.Fprintf(a.stdout, "%s is left as it is: nothing to change\n", printable(name))
	}
	if noBoot {
		return a.showInfo(name, "", &changed)
	}
	return a.showInfo(name, strconv.Itoa(index), &changed)
}

// infoEditPlan is the rewrite of an info edit and the image it changes.
type infoEditPlan struct {
	rewriteSpec
	index int
}

// planInfoEdit returns the rewrite that sets props on image spec of r
// and, with boot, makes it the boot image (noBoot: takes the boot index
// away); its noop is set when r is already so.
func planInfoEdit(r *wim.Reader, spec string, noBoot, boot bool, props []imageProperty,
	now func() time.Time) (infoEditPlan, error) {
	i := 0
	if !noBoot {
		var err error
		if i, err = selectImage(r, spec); err != nil {
			return infoEditPlan{}, err
		}
	}
	infos := r.Images()
	changed := false
	if i > 0 {
		var err error
		if changed, err = setProperties(r, &infos[i-1], props); err != nil {
			return infoEditPlan{index: i}, err
		}
	}
	all := allImages(r)
	opts := editOptions(r, all, false, now)
	if boot && int(r.Header().BootIndex) != i {
		changed, opts = true, append(opts, wim.WithBootIndex(i))
	}
	p := infoEditPlan{index: i, rewriteSpec: rewriteSpec{images: all, infos: infos, opts: opts, noop: !changed}}
	return p, nil
}

// setProperties sets props on info, image of r, and reports whether any
// changed it. A NAME another image of r has is refused (exit 2), and so is
// a property SetProperty refuses.
func setProperties(r imageSet, info *wim.ImageInfo, props []imageProperty) (bool, error) {
	old := info.Name
	changed := false
	for _, p := range props {
		cur, ok := info.Property(p.path)
		if (ok && p.value != "" && cur == p.value) || (!ok && p.value == "") {
			continue
		}
		if err := info.SetProperty(p.path, p.value); err != nil {
			return false, propertyError(err)
		}
		changed = true
	}
	if info.Name != old {
		return changed, checkNewName(r, info.Name)
	}
	return changed, nil
}
