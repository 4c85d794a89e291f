package main

import (
	"encoding/xml"

	"github.com/wimsnap/wimsnap/snapshot"
	"github.com/wimsnap/wimsnap/wim"
)

// snapImageJSON is a snapshot's image fields in --json output, as its
// manifest has them but for the XML elements of an imported image that
// wimsnap keeps without interpreting them (DISM's WINDOWS element): those
// are given as XML text, one string per element ("extra_xml"), not as the
// manifest's records of Go's XML decoder.
type snapImageJSON struct {
	snapshot.ImageFields
	Extra    []wim.XMLNode `json:"extra,omitempty"` // hides ImageFields.Extra: never set
	ExtraXML []string      `json:"extra_xml,omitempty"`
}

// newSnapImageJSON returns f for --json output.
func newSnapImageJSON(f snapshot.ImageFields) snapImageJSON {
	j := snapImageJSON{ImageFields: f}
	for _, n := range f.Extra {
		if b, err := xml.Marshal(n); err == nil {
			j.ExtraXML = append(j.ExtraXML, string(b))
		}
	}
	return j
}
