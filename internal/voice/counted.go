package voice

import (
	"io"
	"sync"
)

// counted reports how many bytes were read from a body when it is closed.
type counted struct {
	io.ReadCloser
	n    int
	once sync.Once
	done func(n int)
}

func (c *counted) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n += n
	return n, err
}

func (c *counted) Close() error {
	err := c.ReadCloser.Close()
	c.once.Do(func() { c.done(c.n) })
	return err
}
