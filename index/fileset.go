package index

import (
	"bytes"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// A file set is the stat signatures of one source's files as its last
// snapshot found them, in a bucket of the files bucket named by the
// source: path -> Sig, and fileSnapKey -> the snapshot they belong to.

// FileSigs lists the signatures of a file set in increasing byte order of
// path, each path once. (Not a slice of FileSig: a file set can hold
// millions, and its holder can keep them more compactly.)
type FileSigs interface {
	Len() int
	// At returns the path of the i-th file, relative to the source as
	// Files.Lookup takes it, and its signature. kept says instead that
	// the signature is the one stored for the path (see Batch.SetFiles),
	// and s is then unset. The path is valid until the next call.
	At(i int) (path []byte, s Sig, kept bool)
}

// FileSig is the signature of one file of a file set.
type FileSig struct {
	Path string
	Sig  Sig
}

// SortFileSigs sorts sigs by path in place and returns them as FileSigs,
// none kept, the last of several for one path counting.
func SortFileSigs(sigs []FileSig) FileSigs {
	slices.SortStableFunc(sigs, func(a, b FileSig) int { return strings.Compare(a.Path, b.Path) })
	out := sigs[:0]
	for i, s := range sigs {
		if i+1 < len(sigs) && sigs[i+1].Path == s.Path {
			continue
		}
		out = append(out, s)
	}
	return sigSlice(out)
}

type sigSlice []FileSig

func (l sigSlice) Len() int                     { return len(l) }
func (l sigSlice) At(i int) ([]byte, Sig, bool) { return []byte(l[i].Path), l[i].Sig, false }

// fileSet is a Batch's SetFiles.
type fileSet struct {
	source     string
	snap, base ID
	sigs       FileSigs
}

// MaxFilePath is the longest file path whose signature the index stores (a
// bbolt key's limit). FileSigs must hold no longer path; a file with one is
// simply read by every snapshot.
const MaxFilePath = bolt.MaxKeySize

// SetFiles replaces the file signatures of source with sigs, which belong
// to snapshot snap. A signature that sigs gives as kept is the one the set
// stored for snapshot base holds for the path: a capture that looked it up
// through a Files view of that set found the file unchanged. Should the
// stored set no longer be base's when Apply runs, the kept files are left
// out of the new set, and the next snapshot reads them.
func (b *Batch) SetFiles(source string, snap, base ID, sigs FileSigs) {
	b.files = &fileSet{source: source, snap: snap, base: base, sigs: sigs}
}

// fileDiff is how the stored file set becomes the new one.
type fileDiff struct {
	rewrite bool     // start from an empty set: the stored one is not base's
	dels    [][]byte // stored paths the new set lacks
	puts    []int32  // the new signatures (indexes into FileSigs) to store
}

// putFiles turns the stored signatures of fs.source into fs.sigs, putting
// and deleting only what differs, in transactions of at most maxTxKeys
// keys; Apply sets the snapshot they belong to afterwards. The first
// transaction takes the set's snapshot marker away, so that a crash part
// way leaves a set of no snapshot, whose signatures no capture trusts
// (useParent compares the marker with the parent): only work to redo.
func (d *DB) putFiles(fs *fileSet) error {
	key := []byte(fs.source)
	diff, err := d.diffFiles(key, fs)
	if err != nil || !diff.rewrite && len(diff.dels) == 0 && len(diff.puts) == 0 {
		return err // the same signatures are stored: only the marker changes
	}
	err = d.update(func(tx *bolt.Tx) error {
		files := data(tx, filesBucket)
		if !diff.rewrite {
			return files.Bucket(key).Delete(fileSnapKey)
		}
		if files.Bucket(key) != nil {
			if err := files.DeleteBucket(key); err != nil {
				return err
			}
		}
		_, err := files.CreateBucket(key)
		return err
	})
	ops := len(diff.dels) + len(diff.puts)
	for start := 0; err == nil && start < ops; start += maxTxKeys {
		err = d.update(func(tx *bolt.Tx) error {
			bk := data(tx, filesBucket).Bucket(key)
			if diff.rewrite {
				bk.FillPercent = appendFill // keys go in in order, into an empty bucket
			}
			for j := start; j < min(start+maxTxKeys, ops); j++ {
				d.touched(tx, randomRead) // a few changes spread over the set
				if j < len(diff.dels) {
					if err := bk.Delete(diff.dels[j]); err != nil {
						return err
					}
					continue
				}
				path, s, _ := fs.sigs.At(int(diff.puts[j-len(diff.dels)]))
				if err := bk.Put(path, s.marshal()); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return err
}

// diffFiles compares the stored file set key with fs, walking both in path
// order. After an unchanged snapshot they are the same, and reading the
// stored set is cheaper than writing it again.
func (d *DB) diffFiles(key []byte, fs *fileSet) (diff fileDiff, err error) {
	sigs := fs.sigs
	err = d.view(func(tx *bolt.Tx) error {
		bk := data(tx, filesBucket).Bucket(key)
		if bk == nil || fs.base == (ID{}) || !bytes.Equal(bk.Get(fileSnapKey), fs.base[:]) {
			diff = fileDiff{rewrite: true}
			for i := range sigs.Len() {
				if _, _, kept := sigs.At(i); !kept {
					diff.puts = append(diff.puts, int32(i))
				}
			}
			return nil
		}
		c := bk.Cursor()
		next := func() ([]byte, []byte) {
			d.touched(tx, seqRead)
			return c.Next()
		}
		k, v := c.First()
		for i := range sigs.Len() {
			path, s, kept := sigs.At(i)
			for ; k != nil && bytes.Compare(k, path) < 0; k, v = next() {
				if !bytes.Equal(k, fileSnapKey) {
					diff.dels = append(diff.dels, bytes.Clone(k))
				}
			}
			found := k != nil && bytes.Equal(k, path)
			if !kept {
				if stored, ok := unmarshalSig(v); !found || !ok || stored != s {
					diff.puts = append(diff.puts, int32(i))
				}
			}
			// A kept signature not found stays out of the new set.
			if found {
				k, v = next()
			}
		}
		for ; k != nil; k, _ = next() {
			if !bytes.Equal(k, fileSnapKey) {
				diff.dels = append(diff.dels, bytes.Clone(k))
			}
		}
		return nil
	})
	return diff, err
}
