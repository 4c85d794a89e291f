package remote

import "fmt"

// Secret is a credential (a secret key, a session token). It prints as
// "<redacted>" with every fmt verb and marshals to JSON the same way, so a
// Secret that ends up in a log line, an error or a --json document by
// mistake does not leak. Convert it to a string explicitly where the value
// is needed.
type Secret string

const redacted = "<redacted>"

// String returns "<redacted>", or "" for an empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString is String, for %#v.
func (s Secret) GoString() string { return s.String() }

// Format prints String for every verb.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

// MarshalText returns String, so encoding/json and friends redact too.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
