package snapshot

import (
	"runtime"
	"sync"

	"github.com/wimsnap/wimsnap/wim"
)

// maxImageAhead is the largest metadata resource check reads ahead of its
// walk beside others; a larger image is read alone, so that memory holds
// at most it and the image being walked. Tests lower it.
var maxImageAhead int64 = 16 << 20

// snapshots checks that every readable snapshot's metadata and streams
// resolve. Reading and parsing the images costs most of the time; they
// are read ahead on every core while the walk checks them in order.
func (c *checker) snapshots() error {
	c.res.Snapshots = len(c.snaps) + len(c.res.Damaged)
	ra := c.readImages()
	defer ra.stop()
	for i, m := range c.snaps {
		if err := c.ctx.Err(); err != nil {
			return err
		}
		img := <-ra.out[i]
		c.comparing = c.compareLocal && c.localSnaps[m.ID]
		ok := c.snapshot(m, img)
		ra.release(i)
		if !ok {
			c.res.Damaged = append(c.res.Damaged, m.ID)
		}
		if c.localErr != nil {
			return c.localErr
		}
	}
	return nil
}

// loadedImage is a snapshot's image as read ahead, or why it is not.
type loadedImage struct {
	md  *wim.Metadata
	err error
}

// imageReader reads the images of c.snaps ahead of the walk: out[i]
// delivers the i-th; release(i) says the walk is done with it.
type imageReader struct {
	out   []chan loadedImage
	slots chan struct{} // one per image read ahead; a large one takes all
	stop  func()        // ends the reading and waits for it
	cost  []int
}

func (c *checker) readImages() *imageReader {
	n := runtime.GOMAXPROCS(0)
	ra := &imageReader{out: make([]chan loadedImage, len(c.snaps)), slots: make(chan struct{}, n),
		cost: make([]int, len(c.snaps))}
	for i, m := range c.snaps {
		ra.out[i] = make(chan loadedImage, 1)
		ra.cost[i] = 1
		if m.Metadata.Size > maxImageAhead {
			ra.cost[i] = n
		}
	}
	todo, done := make(chan int), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(todo)
		for i := range c.snaps {
			for range ra.cost[i] {
				select {
				case ra.slots <- struct{}{}:
				case <-done:
					return
				}
			}
			select {
			case todo <- i:
			case <-done:
				return
			}
		}
	})
	for range n {
		wg.Go(func() {
			for i := range todo {
				md, err := c.r.readImage(c.src, c.snaps[i], false)
				ra.out[i] <- loadedImage{md, err}
			}
		})
	}
	ra.stop = func() {
		close(done)
		wg.Wait()
	}
	return ra
}

// release frees the slots of image i, which the walk is done with.
func (ra *imageReader) release(i int) {
	for range ra.cost[i] {
		<-ra.slots
	}
}
