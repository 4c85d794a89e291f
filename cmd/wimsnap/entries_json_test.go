package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
)

// TestWriteEntriesJSON: a detailed listing's document is written as its
// entries come, past the run's output, which held the whole --json
// document (2.5 KB a file of a listing) until the run ended; it reads as
// the document writeJSON wrote, the fields in their order.
func TestWriteEntriesJSON(t *testing.T) {
	var sink bytes.Buffer
	on := true
	out := &runOutput{w: &sink, json: &on}
	var most int
	head := []jsonField{{"wim", "x<&>.wim"}, {"image", 1}, {"name", ""}}
	err := writeEntriesJSON(out, head, func(emit func(entryJSON)) {
		for i := range 5000 {
			emit(entryJSON{Path: fmt.Sprintf("/f%d", i), Xattrs: []string{"user.a"}})
			most = max(most, out.held.Len())
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if most > 0 || sink.Len() < 5000*100 {
		t.Errorf("%d bytes held at most, %d written; want the document written as it comes", most, sink.Len())
	}
	var got dirJSON
	if err := json.Unmarshal(sink.Bytes(), &got); err != nil {
		t.Fatalf("not JSON: %v\n%.300s", err, sink.String())
	}
	want := dirJSON{WIM: "x<&>.wim", Image: 1}
	for i := range 5000 {
		want.Entries = append(want.Entries, entryJSON{Path: fmt.Sprintf("/f%d", i), Xattrs: []string{"user.a"}})
	}
	var wantDoc bytes.Buffer
	if err := writeJSON(&wantDoc, want); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sink.Bytes(), wantDoc.Bytes()) {
		t.Errorf("the streamed document differs from writeJSON's:\n%.400s\nwant\n%.400s", sink.String(), wantDoc.String())
	}
	var empty bytes.Buffer
	if err := writeEntriesJSON(&empty, head, func(func(entryJSON)) {}); err != nil || !json.Valid(empty.Bytes()) {
		t.Errorf("no entries: %v\n%s", err, empty.String())
	}
}
