package wim

import (
	"sync"
)

// queueChunks is how many chunks the pipeline's queues hold beyond two per
// thread (see pipeline).
const queueChunks = 28

// chunkJob is one chunk on its way through the compression pipeline. Jobs
// are pooled; done carries one token when the worker has finished.
type chunkJob struct {
	res *pendingRes
	end bool // end marker of res: no data
	// data is the uncompressed chunk until a worker has taken it, then the
	// chunk as it is stored: compressed unless raw. A job holds one buffer,
	// as the worker swaps its own in (see pipeline.work).
	data []byte
	raw  bool // data is stored as it is
	done chan struct{}
}

// pendingRes is a resource being written: its chunks travel as jobs, then
// an end marker (a job with end set) tells the output goroutine how the
// resource ends.
type pendingRes struct {
	size    int64
	nchunks int64
	meta    bool   // a metadata resource
	stored  bool   // written without compression whatever the codec (AddStoredStream)
	blob    *wblob // set before the end marker is queued; nil = drop (duplicate or aborted)
	// fields below belong to the output goroutine
	start  int64
	sizes  []int64 // stored size of each chunk so far
	single *chunkJob
}

// pipeline compresses chunks on several goroutines and hands them to one
// output goroutine in submission order, so memory stays bounded by the
// queue lengths.
//
// The queues hold queueChunks chunks beyond two per thread: enough for the
// reading goroutine to get through a file of a megabyte while the workers
// compress the chunks of the ones before it, so that a run of small files
// (whose reading is mostly system calls) does not leave the workers idle.
// Against a queue of 4 beyond, a capture of the Debian tree of make bench
// takes 0.95 of the time; 64 beyond gave no more.
type pipeline struct {
	jobs   chan *chunkJob
	order  chan *chunkJob
	pool   sync.Pool
	wg     sync.WaitGroup
	outErr chan error
}

// newPipeline starts threads workers and the output goroutine, which calls
// emit for each finished job in order (emit owns the job and must put it
// back) and returns emit's first error (later jobs are drained without
// calling emit).
func newPipeline(threads int, newEnc func() chunkEncoder, chunkSize int, emit func(*chunkJob) error) *pipeline {
	q := 2*threads + queueChunks
	p := &pipeline{jobs: make(chan *chunkJob, q), order: make(chan *chunkJob, q), outErr: make(chan error, 1)}
	p.pool.New = func() any {
		return &chunkJob{data: make([]byte, 0, chunkSize), done: make(chan struct{}, 1)}
	}
	for range threads {
		p.wg.Add(1)
		go p.work(newEnc(), make([]byte, 0, chunkSize))
	}
	go func() {
		var err error
		for j := range p.order {
			<-j.done
			if err == nil {
				err = emit(j)
			} else {
				p.put(j)
			}
		}
		p.outErr <- err
	}()
	return p
}

// work compresses jobs until the queue closes. A nil encoder stores all
// raw. It encodes into spare, a buffer of its own; when the chunk shrank it
// swaps spare with the job's buffer, which becomes its next spare, so that
// no job needs a second buffer for the compressed form.
func (p *pipeline) work(enc chunkEncoder, spare []byte) {
	defer p.wg.Done()
	for j := range p.jobs {
		j.raw = true
		if enc != nil && len(j.data) > 0 {
			out := enc.Encode(spare[:0], j.data)
			if len(out) < len(j.data) {
				j.data, spare = out, j.data
				j.raw = false
			} else {
				spare = out
			}
		}
		j.done <- struct{}{}
	}
}

// get returns an empty job for res.
func (p *pipeline) get(res *pendingRes) *chunkJob {
	j := p.pool.Get().(*chunkJob)
	j.res, j.data, j.raw, j.end = res, j.data[:0], false, false
	return j
}

func (p *pipeline) put(j *chunkJob) {
	j.res = nil
	p.pool.Put(j)
}

// submit queues a chunk for compression and output.
func (p *pipeline) submit(j *chunkJob) {
	p.order <- j
	p.jobs <- j
}

// submitDone queues a chunk that needs no compression (j.data and j.raw
// set by the caller) for output.
func (p *pipeline) submitDone(j *chunkJob) {
	j.done <- struct{}{}
	p.order <- j
}

// end queues the end marker of res.
func (p *pipeline) end(res *pendingRes) {
	j := p.get(res)
	j.end = true
	j.done <- struct{}{}
	p.order <- j
}

// close stops the workers and returns the output goroutine's error.
func (p *pipeline) close() error {
	close(p.jobs)
	p.wg.Wait()
	close(p.order)
	return <-p.outErr
}
