package main

import (
	"context"
	"strconv"

	"github.com/wimsnap/wimsnap/wim"
)

const infoEditHelp = `

With --name or --description, IMAGE is renamed or described anew, as
'wimlib-imagex info WIMFILE IMAGE NEWNAME [NEWDESC]' and DISM
/Set-ImageName do, and the image is then shown as above. A name another
image has is refused with exit code 2 (an empty --name removes the name).
WIMFILE is rebuilt as 'wimsnap delete --help' describes: beside it,
renamed over it once complete (an interrupted run leaves it as it was),
under the lock append holds, its streams copied as they are stored (an
LZMS WIM becomes LZX); the same files are refused (exit 1). The other images, the boot index, the
modification times and the integrity table are kept.`

// infoEdit holds info's --name and --description.
type infoEdit struct {
	name, desc       string
	nameSet, descSet bool
}

// runInfoEdit sets the name or description of image spec of WIMFILE name,
// then shows that image as info does.
func (a *app) runInfoEdit(ctx context.Context, name, spec string, e infoEdit) error {
	if spec == "" {
		return usagef("--name and --description need IMAGE: the image to rename or describe")
	}
	index := 0
	plan := func(r *wim.Reader) (rewriteSpec, error) {
		i, err := selectImage(r, spec)
		if err != nil {
			return rewriteSpec{}, err
		}
		if e.nameSet && e.name != "" && e.name != r.Image(i).Name {
			if err := checkNewName(r, e.name); err != nil {
				return rewriteSpec{}, err
			}
		}
		index = i
		all, _ := pickImages(r, nil) // never fails without specs
		return rewriteSpec{images: all, infos: e.apply(r.Images(), i), opts: editOptions(r, all, false, a.now)}, nil
	}
	if _, err := a.editInPlace(ctx, name, rewriteSpec{verb: "info", start: a.now()}, plan); err != nil {
		return err
	}
	return a.runInfo(name, strconv.Itoa(index))
}

// apply returns infos (every image's, in order) with the name and
// description of image i (1-based) set as e says.
func (e infoEdit) apply(infos []wim.ImageInfo, i int) []wim.ImageInfo {
	if e.nameSet {
		infos[i-1].Name = e.name
	}
	if e.descSet {
		infos[i-1].Description = e.desc
	}
	return infos
}
