package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// Limits that keep hostile clients from exhausting memory. Anyone can connect
// to /webhook and claim a 4 MiB body; only Meta can sign one, and the
// signature can only be checked once the body is in memory. So bodies being
// read share a fixed byte budget, a sender gets a fixed time for its body,
// and open connections are capped.
const (
	// largeBodyBudget bounds the bytes of bodies over smallBodyBytes being
	// read at once: 16 bodies of the default 4 MiB limit.
	largeBodyBudget = 64 << 20
	// smallBodyBytes and smallBodyBudget give bodies of Meta's usual size
	// (a few KB) a budget of their own, so slow large bodies cannot starve
	// them: 256 of the largest small bodies at once.
	smallBodyBytes  = 64 << 10
	smallBodyBudget = 16 << 20
	// budgetWait is how long a request waits for room in its budget before
	// it is answered 503 (Meta redelivers).
	budgetWait = time.Second
	// bodyReadTimeout is a sender's time to deliver a body over
	// smallBodyBytes once the headers are in. Meta sends within
	// milliseconds; a client that dribbles is cut off with 408. A small
	// body has the server's read timeout (15 s for headers and body), which
	// spares Meta's requests a deadline change each.
	bodyReadTimeout = 10 * time.Second
	// maxConnections caps open connections on the public port; further ones
	// wait in the kernel's accept queue. Each costs a goroutine and buffers
	// (tens of KB) but never a body outside the budgets.
	maxConnections = 1024
)

// byteBudget is a counting semaphore of bytes. Waiters are not served in
// order: whoever fits when room frees takes it, so a small body is not queued
// behind a large one.
type byteBudget struct {
	mu      sync.Mutex
	free    int64
	waiting int           // acquirers waiting for room
	freed   chan struct{} // closed and replaced on a release while some wait
}

func newByteBudget(n int64) *byteBudget {
	return &byteBudget{free: n, freed: make(chan struct{})}
}

// tryAcquire takes n bytes if they are free now.
func (b *byteBudget) tryAcquire(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.free < n {
		return false
	}
	b.free -= n
	return true
}

// acquire takes n bytes, waiting until they are free or ctx ends.
func (b *byteBudget) acquire(ctx context.Context, n int64) bool {
	for {
		b.mu.Lock()
		if b.free >= n {
			b.free -= n
			b.mu.Unlock()
			return true
		}
		b.waiting++
		freed := b.freed
		b.mu.Unlock()
		woken := true
		select {
		case <-freed:
		case <-ctx.Done():
			woken = false
		}
		b.mu.Lock()
		b.waiting--
		b.mu.Unlock()
		if !woken {
			return false
		}
	}
}

// release returns n bytes, waking the waiters if there are any: without
// them, a release costs no channel.
func (b *byteBudget) release(n int64) {
	b.mu.Lock()
	b.free += n
	if b.waiting > 0 {
		close(b.freed)
		b.freed = make(chan struct{})
	}
	b.mu.Unlock()
}

// bodyReader reads request bodies within the budgets and the body deadline.
type bodyReader struct {
	maxBody      int64
	small, large *byteBudget
	// buffers holds *pooledBody: buffers for bodies of up to
	// pooledBodyBytes, Meta's usual size.
	buffers sync.Pool
}

// pooledBodyBytes is the size of pooled body buffers.
const pooledBodyBytes = 8 << 10

type pooledBody [pooledBodyBytes]byte

// recycle gives body's buffer back for another request. Only for a body
// nothing refers to any more: the one of a record Kafka acknowledged, which
// the client has let go of.
func (br *bodyReader) recycle(body []byte) {
	if cap(body) == pooledBodyBytes {
		br.buffers.Put((*pooledBody)(body[:pooledBodyBytes]))
	}
}

func newBodyReader(maxBody int64) *bodyReader {
	return &bodyReader{maxBody: maxBody, small: newByteBudget(smallBodyBudget), large: newByteBudget(largeBodyBudget)}
}

// read returns r's body and a release for its share of the budget, or the
// outcome and status to answer with. With a Content-Length, the buffer is
// allocated once at that size; a chunked body is charged MAX_BODY_BYTES.
func (br *bodyReader) read(w http.ResponseWriter, r *http.Request) (body []byte, release func(), outcome string, status int) {
	n := r.ContentLength
	if n > br.maxBody {
		return nil, nil, outcomeTooLarge, http.StatusRequestEntityTooLarge
	}
	known := n >= 0
	if !known {
		n = br.maxBody
	}
	budget := br.large
	if n <= smallBodyBytes {
		budget = br.small
	}
	// The timer for the wait is set only when there is a wait.
	if !budget.tryAcquire(n) {
		ctx, cancel := context.WithTimeout(r.Context(), budgetWait)
		ok := budget.acquire(ctx, n)
		cancel()
		if !ok {
			return nil, nil, outcomeBusy, http.StatusServiceUnavailable
		}
	}
	release = func() { budget.release(n) }

	if budget == br.large {
		// The server's ReadTimeout is longer; this one starts when the
		// body does.
		http.NewResponseController(w).SetReadDeadline(time.Now().Add(bodyReadTimeout))
	}
	var err error
	if known {
		if n <= pooledBodyBytes {
			buf, _ := br.buffers.Get().(*pooledBody)
			if buf == nil {
				buf = new(pooledBody)
			}
			body = buf[:n]
		} else {
			body = make([]byte, n)
		}
		if _, err = io.ReadFull(r.Body, body); err == nil {
			// The whole body is read: closed now, net/http does not
			// try to drain it after the answer.
			r.Body.Close()
		}
	} else {
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, br.maxBody))
	}
	if err == nil {
		return body, release, "", 0
	}
	release()
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return nil, nil, outcomeTooLarge, http.StatusRequestEntityTooLarge
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return nil, nil, outcomeSlowBody, http.StatusRequestTimeout
	}
	return nil, nil, outcomeBadBody, http.StatusBadRequest
}

// limitListener accepts at most n connections at once, as
// golang.org/x/net/netutil.LimitListener does.
type limitListener struct {
	net.Listener
	slots     chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

func newLimitListener(ln net.Listener, n int) *limitListener {
	return &limitListener{Listener: ln, slots: make(chan struct{}, n), done: make(chan struct{})}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitConn{Conn: c, release: sync.OnceFunc(func() { <-l.slots })}, nil
}

func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

type limitConn struct {
	net.Conn
	release func()
}

func (c *limitConn) Close() error {
	c.release()
	return c.Conn.Close()
}
