package remote

// syncDir does nothing on Windows, where directories cannot be opened for
// fsync; NTFS journals its directory changes.
func syncDir(string) error { return nil }
