// Package wim reads and writes WIM (Windows Imaging) files as DISM,
// WIMGAPI and wimlib-imagex make them. It imports only the standard library
// and its own codec packages.
//
// # Layout on disk
//
// All integers are little-endian. Only the 208-byte header has a fixed place;
// everything else is found through 24-byte resource headers (56-bit stored
// size, 8 flag bits, u64 offset, u64 uncompressed size):
//
//	header (208 bytes)         magic "MSWIM\0\0\0", version 0x10d00 (0xe00
//	                           for LZMS), flags,
//	                           chunk size, GUID, part/parts, image count, and
//	                           resource headers of the blob table, XML, boot
//	                           metadata and integrity table
//	file data resources        one per distinct non-empty stream (SHA-1 dedup)
//	metadata resources         one per image: security data + dentry tree
//	blob table                 50-byte entries: resource header, part number,
//	                           reference count, SHA-1; metadata entries first,
//	                           in image order
//	XML data                   UTF-16LE with BOM: one IMAGE element per image
//	integrity table            optional: SHA-1 of every 10 MiB from offset 208
//	                           to the end of the blob table
//
// A compressed resource is a chunk table (one entry per chunk but the first,
// 4 bytes, or 8 when the stream exceeds 4 GiB, giving chunk starts relative
// to the end of the table) followed by the chunks, each 32 KiB when expanded
// (128 KiB for LZMS; the last shorter). A chunk whose stored size equals its expanded size is
// stored raw. A resource that does not shrink is stored raw with the
// COMPRESSED flag clear.
//
// A pipable WIM (wimlib-imagex --pipable, for writing to and applying from
// a pipe) has magic "WLPWM\0\0\0" and is laid out as
//
//	header (208 bytes)         without blob table and XML entries: ignored
//	XML data                   an extra copy, as a blob (below): ignored
//	metadata resources, then   each blob preceded by a 40-byte blob header
//	file data resources        (u64 magic 0x2B9B9BA2443DB9D8, u64 size,
//	                           SHA-1, u32 resource flags); the blob table's
//	                           offset points past it
//	blob table, XML data,
//	integrity table            as in a WIM
//	header (208 bytes)         the last 208 bytes: the header that counts
//
// Its compressed resources put a u32 stored size before each chunk and the
// chunk table after the chunks, its entries counting the chunks' bytes
// without those prefixes; a chunk that does not shrink is stored raw in a
// resource that stays compressed. There are no solid resources. The Reader
// reads a pipable WIM from a file (random access) and checks each blob
// header and chunk prefix against the tables, though wimlib, reading from a
// file, passes over them.
//
// A metadata resource holds the security descriptors (8-byte aligned), the
// root dentry, an 8-byte zero, then one sibling list per directory in
// depth-first pre-order, each ended by 8 zero bytes. A dentry is a 102-byte
// fixed part (attributes, security id, subdir offset, three FILETIMEs, main
// hash, reparse tag or hard-link group id, stream count, name lengths), the
// UTF-16 long and short names, 8-byte aligned tagged items (object id, xattrs,
// wimlib's UNIX data 0x337DD873), then extra stream entries. The reference
// is ../shared/wim-format.md in the project's shared folder.
//
// # Decisions
//
//   - The Writer writes version 0x10d00 with 32 KiB chunks, compression none,
//     XPRESS or LZX, or LZMS as wimlib writes it: version 0xe00 (the solid
//     format's, which wimlib sets for LZMS too) with 128 KiB chunks, in
//     resources that are not solid; streams in wimlib 1.14.2's form (main hash when a dentry has
//     exactly one unnamed stream, else all streams as extra entries), siblings
//     sorted case-insensitively then case-sensitively, XML in wimlib's element
//     order plus IMAGE/CREATOR and IMAGE/IMAGEVERSION for ConfigMgr's
//     OSDImageCreator and OSDImageVersion.
//   - Compression runs on several goroutines (WithThreads); one output
//     goroutine writes chunks in order. Duplicate streams are detected by
//     SHA-1 after reading; the duplicate's chunks are overwritten by what
//     follows, and Close truncates the file to its end.
//   - The header is written first with WRITE_IN_PROGRESS and rewritten by
//     Close; an append writes after the old tables, so an interrupted append
//     leaves the old WIM intact.
//   - Names: see name.go. Bytes that are not valid UTF-8 are kept as lone
//     surrogates U+DC80..U+DCFF so every UNIX name survives, and the WTF-8
//     form of other lone surrogates as the surrogates, so Windows names
//     that are not valid UTF-16 survive too.
//   - The Reader caps what headers can make it allocate: the XML at 64 MiB,
//     a metadata resource at 1 GiB, chunk tables are read 4096 entries at a
//     time, and nothing larger than the file is read. Every stream read is
//     checked against its SHA-1 at its end.
//   - The Reader reads none, XPRESS, LZX (chunk sizes 32 KiB to 2 MiB), LZMS
//     and solid resources (version 0xe00, DISM's ESD and wimlib's --solid) in
//     any of these codecs, whatever the header's codec. A blob in a solid resource is read by decompressing
//     only the chunks it spans; the Reader keeps recently decompressed solid
//     chunks (up to 128 MiB besides the latest, see chunk_cache.go), since
//     many small blobs share one chunk.
//   - A part of a split WIM (.swm) reads its own streams; Reader.AddPart
//     joins the others (split.go), and WriteSplit writes a WIM as parts.
//   - A delta WIM (wimlib-imagex --delta-from) lacks the streams of the WIMs
//     it was made against; Reader.AddRef adds theirs (ref.go).
//   - Not supported yet (errors wrap ErrUnsupported): writing solid
//     resources, appending to a WIM that has them (wimsnap optimize rewrites
//     such a WIM without them first) or to a split WIM, splitting one
//     with solid resources, writing pipable WIMs, appending to or
//     splitting one, and reading one from a pipe (it is read from a file).
package wim
