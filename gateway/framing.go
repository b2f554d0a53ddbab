package gateway

import (
	"bytes"
	"io"
	"net"
	"strconv"
)

// Request smuggling: a request with both Content-Length and
// Transfer-Encoding is framed one way by some proxies and another by
// others, so the bytes one reads as a body another reads as a request.
// RFC 9112 §6.1 lets a server reject it and requires it to close the
// connection either way. Go's net/http does neither: it drops the
// Content-Length, reads the chunked body and keeps the connection alive
// (and hands the handler no trace of the dropped header). So the gateway
// watches the framing itself, below net/http: framingListener wraps each
// connection (after TLS) in a framingConn that follows the HTTP/1.1
// message boundaries as net/http reads them, holds each request head until
// it is complete, and when a head carries both headers hands net/http a
// malformed request line in its place and nothing after it. net/http then
// answers "400 Bad Request" with "Connection: close" and closes the
// connection — after the answers to any requests before it, in order — and
// not one byte of that request or what follows reaches a handler.
//
// The framing rules followed are net/http's: a head ends at the first empty
// line (a line ending in LF, its CR optional); a request body is chunked
// when Transfer-Encoding is present on HTTP/1.1 (net/http answers 501 to any
// coding but chunked, and closes), else Content-Length bytes long, else
// empty. Where net/http would refuse the bytes anyway (a head over the
// header limit, a bad length or chunk size), the watcher stops and passes
// everything through.

// maxHeadBytes bounds a held head: net/http refuses heads over
// MaxHeaderBytes (32 KiB here) plus 4 KiB of slack.
const maxHeadBytes = 64 << 10

// refusedHead is what net/http reads instead of a smuggling head: a request
// line it cannot parse, which it answers 400 and closes on.
var refusedHead = []byte("SMUGGLING\r\n\r\n")

type framingListener struct {
	net.Listener
	onRefuse func(remote string)
}

func (l framingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &framingConn{Conn: c, onRefuse: l.onRefuse}, nil
}

type framingState int

const (
	inHead      framingState = iota // reading a request head
	inBody                          // remain bytes of a fixed-length body
	inChunkSize                     // reading a chunk-size line
	inChunkData                     // remain bytes of chunk data and its CRLF
	inTrailer                       // reading trailer lines after the last chunk
	passThrough                     // not watching any more
	closedOut                       // a smuggling head was replaced: nothing more
)

type framingConn struct {
	net.Conn
	onRefuse func(remote string)

	state  framingState
	remain int64
	held   []byte // bytes of the current head or line, not yet passed on
	out    []byte // bytes ready for net/http
	buf    []byte
}

func (c *framingConn) Read(p []byte) (int, error) {
	for len(c.out) == 0 {
		if c.state == closedOut {
			return 0, io.EOF
		}
		if c.buf == nil {
			c.buf = make([]byte, 4096)
		}
		n, err := c.Conn.Read(c.buf)
		c.feed(c.buf[:n])
		if err != nil {
			if len(c.out) == 0 {
				// what is held can never be completed: let net/http judge it
				c.out, c.held = c.held, nil
			}
			if len(c.out) == 0 {
				return 0, err
			}
			break
		}
	}
	n := copy(p, c.out)
	c.out = c.out[n:]
	return n, nil
}

// feed follows the framing over data, moving what may pass to c.out.
func (c *framingConn) feed(data []byte) {
	for len(data) > 0 {
		switch c.state {
		case passThrough:
			c.out = append(c.out, data...)
			return
		case closedOut:
			return
		case inBody, inChunkData:
			n := int(min(int64(len(data)), c.remain))
			c.out = append(c.out, data[:n]...)
			data = data[n:]
			if c.remain -= int64(n); c.remain == 0 {
				if c.state == inBody {
					c.state = inHead
				} else {
					c.state = inChunkSize
				}
			}
		case inHead:
			data = c.head(data)
		case inChunkSize, inTrailer:
			data = c.line(data)
		}
	}
}

// head holds bytes until the head is complete, then judges it. It returns
// the bytes of data after the head.
func (c *framingConn) head(data []byte) []byte {
	var h, rest []byte
	if len(c.held) == 0 {
		end := headEnd(data, 0)
		if end < 0 {
			return c.hold(data)
		}
		h, rest = data[:end], data[end:]
	} else {
		// the empty line ends in data: earlier bytes were searched already
		start := len(c.held)
		c.held = append(c.held, data...)
		end := headEnd(c.held, max(start-2, 0))
		if end < 0 {
			c.held = c.held[:start]
			return c.hold(data)
		}
		h, rest = c.held[:end], data[end-start:]
	}
	body, ok := framingOf(h)
	if !ok {
		c.state = closedOut
		c.out = append(c.out, refusedHead...)
		c.held = c.held[:0]
		if c.onRefuse != nil {
			c.onRefuse(c.RemoteAddr().String())
		}
		return nil
	}
	switch {
	case body == chunkedBody:
		c.state = inChunkSize
	case body > 0:
		c.state, c.remain = inBody, body
	case body < 0:
		c.state = passThrough // a length net/http refuses
	}
	c.out = append(c.out, h...)
	c.held = c.held[:0]
	return rest
}

// hold keeps the bytes of an unfinished head; past the header limit it
// stops watching (net/http answers 431).
func (c *framingConn) hold(data []byte) []byte {
	c.held = append(c.held, data...)
	if len(c.held) > maxHeadBytes {
		c.state = passThrough
		c.out = append(c.out, c.held...)
		c.held = c.held[:0]
	}
	return nil
}

// line holds a chunk-size or trailer line until its LF.
func (c *framingConn) line(data []byte) []byte {
	i := bytes.IndexByte(data, '\n')
	if i < 0 {
		c.held = append(c.held, data...)
		if len(c.held) > 4096 {
			c.state = passThrough // net/http refuses lines this long
			c.out, c.held = append(c.out, c.held...), nil
		}
		return nil
	}
	c.held = append(c.held, data[:i+1]...)
	line := bytes.TrimRight(c.held, "\r\n")
	c.out = append(c.out, c.held...)
	c.held = c.held[:0]
	if c.state == inTrailer {
		if len(line) == 0 {
			c.state = inHead
		}
		return data[i+1:]
	}
	if semi := bytes.IndexByte(line, ';'); semi >= 0 {
		line = line[:semi]
	}
	size, err := strconv.ParseUint(string(bytes.TrimSpace(line)), 16, 63)
	switch {
	case err != nil || size > 1<<62:
		c.state = passThrough // net/http refuses the body (or it never ends)
	case size == 0:
		c.state = inTrailer
	default:
		c.state, c.remain = inChunkData, int64(size)+2 // data and its CRLF
	}
	return data[i+1:]
}

// headEnd returns the index just after the empty line that ends a head, or
// -1; from is where to start looking.
func headEnd(b []byte, from int) int {
	for i := from; i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		// the line that ends here is empty if the one before ended just
		// before it (optionally with a CR)
		if i >= 1 && b[i-1] == '\n' {
			return i + 1
		}
		if i >= 2 && b[i-1] == '\r' && b[i-2] == '\n' {
			return i + 1
		}
	}
	return -1
}

const chunkedBody = -2

// framingOf reads a request head's framing: the body length, chunkedBody,
// or -1 for a length net/http refuses. ok is false for a head with both
// Content-Length and Transfer-Encoding.
func framingOf(head []byte) (body int64, ok bool) {
	lines := bytes.Split(head, []byte("\n"))
	http10 := bytes.HasSuffix(bytes.TrimRight(lines[0], "\r"), []byte("HTTP/1.0"))
	var cl, te bool
	var length []byte
	for _, l := range lines[1:] {
		name, value, found := bytes.Cut(bytes.TrimRight(l, "\r"), []byte(":"))
		if !found {
			continue
		}
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			cl, length = true, bytes.TrimSpace(value)
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			te = true
		}
	}
	switch {
	case cl && te:
		return 0, false
	case te && !http10:
		return chunkedBody, true
	case cl:
		n, err := strconv.ParseInt(string(length), 10, 64)
		if err != nil || n < 0 {
			return -1, true
		}
		return n, true
	}
	return 0, true
}
