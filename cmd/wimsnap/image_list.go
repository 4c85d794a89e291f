package main

import (
	"slices"

	"github.com/wimsnap/wimsnap/wim"
)

// selectImages returns the indexes of the images specs name, as
// namedImages does, except that "all" alone stands for every image, as
// wimlib-imagex reads it before it looks for an image of that name; "all"
// among others is a usage error.
func selectImages(r *wim.Reader, specs []string, arg string) ([]int, error) {
	if slices.Contains(specs, "all") {
		if len(specs) > 1 {
			return nil, usagef("%s all is every image: give no other", arg)
		}
		return allImages(r), nil
	}
	return namedImages(r, specs, arg)
}

// namedImages returns the indexes of the images specs name, in their
// order, each an index or a name (selectImage). arg names the argument in
// messages ("IMAGE", "--image"). An empty spec and an image named twice
// are usage errors.
func namedImages(r *wim.Reader, specs []string, arg string) ([]int, error) {
	var out []int
	for _, s := range specs {
		if s == "" {
			return nil, usagef("%s is empty: give an index or a name", arg)
		}
		i, err := selectImage(r, s)
		if err != nil {
			return nil, err
		}
		if slices.Contains(out, i) {
			return nil, usagef("%s %s: image %d is named twice", arg, s, i)
		}
		out = append(out, i)
	}
	return out, nil
}

// allImages returns the indexes of r's images, 1 to its image count.
func allImages(r *wim.Reader) []int {
	out := make([]int, r.ImageCount())
	for i := range out {
		out[i] = i + 1
	}
	return out
}
