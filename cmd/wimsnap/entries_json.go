package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
)

// jsonField is one field of a document written by writeEntriesJSON.
type jsonField struct {
	key   string
	value any
}

// writeEntriesJSON writes one JSON document, indented and escaped as
// writeJSON writes one: the fields of head, in order, then "entries",
// each entry that walk gives emit, written as it comes, through the
// run's output (passThrough). A detailed listing's memory does not grow
// with the tree (gathered first and held, it took about 2.5 KB a file).
func writeEntriesJSON(w io.Writer, head []jsonField, walk func(emit func(entryJSON))) error {
	passThrough(w)
	bw := bufio.NewWriter(w)
	// bufio keeps the first write error for Flush, which returns it.
	put := func(s string) { _, _ = bw.WriteString(s) }
	putBytes := func(b []byte) { _, _ = bw.Write(b) }
	var field indentedJSON
	put("{\n")
	for _, f := range head {
		k, err := field.encode(f.key, "  ")
		if err != nil {
			return err
		}
		put("  ")
		putBytes(k)
		put(": ")
		v, err := field.encode(f.value, "  ")
		if err != nil {
			return err
		}
		putBytes(v)
		put(",\n")
	}
	put(`  "entries": [`)
	var err error
	n := 0
	walk(func(e entryJSON) {
		if err != nil {
			return
		}
		var b []byte
		if b, err = field.encode(e, "    "); err != nil {
			return
		}
		if n > 0 {
			put(",")
		}
		put("\n    ")
		putBytes(b)
		n++
	})
	if err != nil {
		return err
	}
	if n > 0 {
		put("\n  ")
	}
	put("]\n}\n")
	return bw.Flush()
}

// indentedJSON encodes values one at a time into a buffer it reuses.
type indentedJSON struct{ buf bytes.Buffer }

// encode returns v as JSON, indented by two spaces a level below prefix
// and without HTML escapes, as writeJSON writes it; the bytes are valid
// until the next call.
func (j *indentedJSON) encode(v any, prefix string) ([]byte, error) {
	j.buf.Reset()
	enc := json.NewEncoder(&j.buf)
	enc.SetIndent(prefix, "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(j.buf.Bytes(), []byte("\n")), nil
}
