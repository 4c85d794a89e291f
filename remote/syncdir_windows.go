package remote

// SyncDir does nothing on Windows, where directories cannot be opened for
// fsync; NTFS journals its directory changes.
func SyncDir(string) error { return nil }
