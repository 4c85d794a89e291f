package snapshot

// spoolQueueDepth is how many full buffers a spoolQueue holds for its
// goroutine to write, one more being written, before the next waits.
const spoolQueueDepth = 4

// spoolQueue writes the full buffers of a pack that bypasses the page cache
// (spoolFile.bypassCache) to its spool file on a goroutine of its own. Such
// a write returns once the disk has the bytes, and the packer, which the
// chunks of every worker pass through, would wait out each one: a first
// snapshot of /usr used 7% less CPU time with its packs bypassing the
// cache, but took as long, running on 1.65 cores instead of 1.78.
//
// Buffers are packWriteSize bytes, aligned; the queue makes at most
// spoolQueueDepth+1 of them, reused from write to write.
type spoolQueue struct {
	spool *spoolFile
	full  chan []byte   // buffers to write, in order
	free  chan []byte   // buffers written, to fill again
	made  int           // buffers made so far
	done  chan struct{} // closed once the goroutine has stopped
	err   error         // the first write error; read it after done
}

// newSpoolQueue starts the goroutine that writes s's buffers.
func newSpoolQueue(s *spoolFile) *spoolQueue {
	q := &spoolQueue{
		spool: s,
		full:  make(chan []byte, spoolQueueDepth),
		free:  make(chan []byte, spoolQueueDepth+1),
		done:  make(chan struct{}),
	}
	go q.run()
	return q
}

// run writes the queued buffers in order. After an error it writes no
// more, and hands the buffers back.
func (q *spoolQueue) run() {
	defer close(q.done)
	for b := range q.full {
		if q.err == nil {
			_, q.err = q.spool.Write(b)
		}
		q.free <- b[:0]
	}
}

// buffer returns an empty buffer to fill: one written already, or a new
// one while fewer than spoolQueueDepth+1 exist, or else the next one the
// goroutine is done with.
func (q *spoolQueue) buffer() []byte {
	select {
	case b := <-q.free:
		return b
	default:
	}
	if q.made <= spoolQueueDepth {
		q.made++
		return alignedBuffer(packWriteSize)
	}
	return <-q.free
}

// write queues b, full, for writing; b belongs to the queue from then on.
func (q *spoolQueue) write(b []byte) { q.full <- b }

// close waits until every queued buffer is written and returns the first
// write error. The queue cannot be used again.
func (q *spoolQueue) close() error {
	close(q.full)
	<-q.done
	return q.err
}
