package gateway

import (
	"bytes"
	"io"
	"net"
	"testing"
)

// chunkConn is a net.Conn that reads data in pieces of the given sizes.
type chunkConn struct {
	net.Conn
	data  []byte
	sizes []byte
}

func (c *chunkConn) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := len(c.data)
	if len(c.sizes) > 0 {
		n = max(1, int(c.sizes[0]))
		c.sizes = c.sizes[1:]
	}
	n = min(n, len(p), len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

func (c *chunkConn) RemoteAddr() net.Addr { return &net.TCPAddr{} }

// readThrough returns what net/http would read through a framingConn.
func readThrough(data, sizes []byte) (out []byte, refusedAt bool) {
	fc := &framingConn{Conn: &chunkConn{data: data, sizes: sizes}, onRefuse: func(string) { refusedAt = true }}
	out, _ = io.ReadAll(fc)
	return out, refusedAt
}

func TestFramingConn(t *testing.T) {
	get := "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
	chunkedPost := "POST /v1/reports HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n"
	lengthPost := "POST /v1/reports HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world"
	smuggle := "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
	for _, c := range []struct {
		name, in, want string
		refused        bool
	}{
		{"pipelined requests pass unchanged", get + chunkedPost + lengthPost + get, get + chunkedPost + lengthPost + get, false},
		{"a body that looks like a smuggling head is a body", lengthPost[:len(lengthPost)-11] + "" + "hello world" + get, lengthPost + get, false},
		{"smuggling head replaced, the rest dropped", get + smuggle + get, get + string(refusedHead), true},
		{"chunk data holding a smuggling head is data", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"4f\r\n" + smuggle[:79] + "\r\n0\r\n\r\n" + get,
			"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + "4f\r\n" + smuggle[:79] + "\r\n0\r\n\r\n" + get, false},
		{"an unfinished head is handed over at EOF", "GET / HTTP/1.1\r\nHost:", "GET / HTTP/1.1\r\nHost:", false},
	} {
		for _, sizes := range [][]byte{nil, {1}, {3, 7, 1, 200}} {
			if len(sizes) == 1 {
				sizes = bytes.Repeat([]byte{1}, len(c.in))
			}
			out, refused := readThrough([]byte(c.in), sizes)
			if string(out) != c.want || refused != c.refused {
				t.Errorf("%s (reads %v):\n got  %q (refused %v)\n want %q", c.name, sizes, out, refused, c.want)
			}
		}
	}
}

// FuzzFramingConn: whatever the bytes and however they arrive, the watcher
// passes them on unchanged, or — having found a head with both
// Content-Length and Transfer-Encoding — a prefix of them followed by the
// refused head and nothing more.
func FuzzFramingConn(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\nPOST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"), []byte{5, 1, 9})
	f.Add([]byte("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), []byte{})
	f.Add([]byte("POST / HTTP/1.0\nContent-Length: 2\n\nabGET / HTTP/1.1\n\n"), []byte{2})
	f.Fuzz(func(t *testing.T, data, sizes []byte) {
		out, refused := readThrough(data, sizes)
		if !refused {
			if !bytes.Equal(out, data) {
				t.Fatalf("altered a stream it did not refuse:\n in  %q\n out %q", data, out)
			}
			return
		}
		prefix, ok := bytes.CutSuffix(out, refusedHead)
		if !ok || !bytes.HasPrefix(data, prefix) {
			t.Fatalf("refused, but passed %q of %q", out, data)
		}
	})
}
