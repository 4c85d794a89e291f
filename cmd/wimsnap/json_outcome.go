package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// failureDoc is the --json document of a command that failed before
// writing its own.
type failureDoc struct {
	Error string `json:"error"`
	// Errors lists the mistakes of a failure that found several (every
	// mistake of an agent config: mistakes), one message each.
	Errors   []string `json:"errors,omitempty"`
	ExitCode int      `json:"exit_code"`
}

// runOutput is a run's standard output. Text goes straight through; --json
// output (*json set when Write is called) is held until the run's exit
// code is known, so that finish can mark a document the command wrote
// before it failed. It counts every byte written, held or not.
type runOutput struct {
	w    io.Writer
	json *bool
	held bytes.Buffer
	n    int64
	// through is set once a command streams its --json document
	// (passThrough): it is written as it comes, not held.
	through bool
}

func (s *runOutput) Write(p []byte) (int, error) {
	s.n += int64(len(p))
	if *s.json && !s.through {
		return s.held.Write(p)
	}
	return s.w.Write(p)
}

// passThrough makes the --json output of w, when it is a run's output, go
// straight through from now on, for a document too large to hold (a
// detailed listing): a failure after it began cannot be marked in it, and
// shows in the exit code and on stderr only.
func passThrough(w io.Writer) {
	if s, ok := w.(*runOutput); ok && !s.through {
		s.through = true
		_, _ = s.w.Write(s.held.Bytes()) // nothing, as a rule: the document begins now
		s.held.Reset()
	}
}

// finish writes the held --json output. A run that exits with code != 0
// gives one document holding "error" (the message report prints) and
// "exit_code" whatever failed: the
// command's own document with them added (an "error" it holds already is
// kept), or failureDoc when it wrote none; interrupted is the message of
// a run a signal stopped. Held output that is not one JSON object (a help
// text) is written as it is.
func (s *runOutput) finish(err error, code int, interrupted string) error {
	if err != nil && *s.json && !s.through {
		msg := shown(err)
		if code == exitInterrupted {
			msg = interrupted // as report says, not the context's "canceled"
		}
		if s.n == 0 {
			_ = writeJSON(&s.held, failureDoc{Error: msg, Errors: joinedMessages(err), ExitCode: code})
		} else if doc, ok := withOutcome(s.held.Bytes(), msg, code); ok {
			s.held.Reset()
			s.held.Write(doc)
		}
	}
	if s.held.Len() == 0 {
		return nil
	}
	_, werr := s.w.Write(s.held.Bytes())
	s.held.Reset()
	return werr
}

// withOutcome returns doc, one indented JSON object as writeJSON writes
// it, with "exit_code" added and "error" set to msg unless it holds a
// non-empty one (which an interrupted run's msg replaces: its own says
// "context canceled"). The other members keep their order. ok is false when doc
// is not one JSON object.
func withOutcome(doc []byte, msg string, code int) (_ []byte, ok bool) {
	var members []jsonMember
	dec := json.NewDecoder(bytes.NewReader(doc))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, false
	}
	for dec.More() {
		var m jsonMember
		t, err := dec.Token()
		if err != nil {
			return nil, false
		}
		m.key, _ = t.(string)
		if err := dec.Decode(&m.value); err != nil {
			return nil, false
		}
		members = append(members, m)
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, false // more after the object
	}
	members = setMember(members, "error", msg, code == exitInterrupted)
	members = setMember(members, "exit_code", code, true)
	return encodeMembers(members), true
}

// jsonMember is one member of a JSON object, its value as written.
type jsonMember struct {
	key   string
	value json.RawMessage
}

// setMember sets key to v in members, appending it when absent. A present
// member is replaced only when replace is set or its value is "" or null.
func setMember(members []jsonMember, key string, v any, replace bool) []jsonMember {
	raw := marshal(v)
	for i, m := range members {
		if m.key == key {
			if replace || string(m.value) == `""` || string(m.value) == "null" {
				members[i].value = raw
			}
			return members
		}
	}
	return append(members, jsonMember{key, raw})
}

// encodeMembers writes members as one object in writeJSON's layout.
func encodeMembers(members []jsonMember) []byte {
	var flat bytes.Buffer
	flat.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			flat.WriteByte(',')
		}
		flat.Write(marshal(m.key))
		flat.WriteByte(':')
		flat.Write(m.value)
	}
	flat.WriteByte('}')
	var out bytes.Buffer
	_ = json.Indent(&out, flat.Bytes(), "", "  ") // valid: each value was decoded
	out.WriteByte('\n')
	return out.Bytes()
}

// marshal returns v as JSON, without writeJSON's HTML escapes either.
func marshal(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // strings and ints
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}
