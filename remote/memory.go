package remote

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Memory is a Store that keeps objects in memory, for tests. It copies data
// in and out, so callers may reuse their buffers and never see the store's.
// Its ModTime is the time.Now of the write. It is safe for concurrent use;
// the zero value is not usable, call NewMemory.
type Memory struct {
	mu   sync.Mutex
	objs map[string]memObject
}

type memObject struct {
	data []byte // never modified once stored
	mod  time.Time
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{objs: make(map[string]memObject)}
}

// Put implements Store. It reads r completely before taking the store's
// lock, so a slow reader does not block other callers.
func (m *Memory) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := checkKey(ctx, "put", key); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := copyExact(ctx, &buf, r, size); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objs[key] = memObject{data: buf.Bytes(), mod: time.Now()}
	return nil
}

// PutIfAbsent implements Store.
func (m *Memory) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	if err := checkKey(ctx, "put-if-absent", key); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.objs[key]; ok {
		return fmt.Errorf("put-if-absent %s: %w", key, ErrExists)
	}
	m.objs[key] = memObject{data: bytes.Clone(data), mod: time.Now()}
	return nil
}

// Get implements Store. The reader holds its own copy of the range.
func (m *Memory) Get(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	if err := checkKey(ctx, "get", key); err != nil {
		return nil, err
	}
	m.mu.Lock()
	o, ok := m.objs[key]
	m.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("get %s: %w", key, ErrNotFound)
	}
	n, err := checkRange(int64(len(o.data)), off, length)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	data := bytes.Clone(o.data[off : off+n])
	return io.NopCloser(bytes.NewReader(data)), nil
}

// Stat implements Store.
func (m *Memory) Stat(ctx context.Context, key string) (Info, error) {
	if err := checkKey(ctx, "stat", key); err != nil {
		return Info{}, err
	}
	m.mu.Lock()
	o, ok := m.objs[key]
	m.mu.Unlock()
	if !ok {
		return Info{}, fmt.Errorf("stat %s: %w", key, ErrNotFound)
	}
	return Info{Key: key, Size: int64(len(o.data)), ModTime: o.mod}, nil
}

// List implements Store. It takes a snapshot of the matching objects and
// calls fn without holding the lock.
func (m *Memory) List(ctx context.Context, prefix string, fn func(Info) error) error {
	if err := validPrefix(prefix); err != nil {
		return fmt.Errorf("list: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %s: %w", prefix, err)
	}
	var infos []Info
	m.mu.Lock()
	for k, o := range m.objs {
		if strings.HasPrefix(k, prefix) {
			infos = append(infos, Info{Key: k, Size: int64(len(o.data)), ModTime: o.mod})
		}
	}
	m.mu.Unlock()
	for _, info := range infos {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("list %s: %w", prefix, err)
		}
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
}

// Delete implements Store.
func (m *Memory) Delete(ctx context.Context, key string) error {
	if err := checkKey(ctx, "delete", key); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.objs[key]; !ok {
		return fmt.Errorf("delete %s: %w", key, ErrNotFound)
	}
	delete(m.objs, key)
	return nil
}

// Location implements Store; it returns "memory".
func (m *Memory) Location() string { return "memory" }
