package crypto

import (
	"container/list"
	"crypto/sha256"
	"sync"

	"github.com/tink-crypto/tink-go/v2/tink"
)

// keyCache holds unwrapped data keys, least recently used first out.
//
// It is only a shortcut past unwrapping, never a source of truth: every
// Encrypt and Decrypt first reads the subject's row, and an entry is used
// only if the SHA-256 of the row's wrapped key matches the one it was
// unwrapped from. So a key destroyed by any node stops working on every
// node at once (the row has no wrapped key any more), and a key re-wrapped
// by a rotation is simply unwrapped again once.
type keyCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // of *cacheEntry, most recently used at the front
	items map[string]*list.Element
}

type cacheEntry struct {
	subject string
	wrapped [sha256.Size]byte
	aead    tink.AEAD
}

func newKeyCache(max int) *keyCache {
	return &keyCache{max: max, order: list.New(), items: map[string]*list.Element{}}
}

func (c *keyCache) get(subject string, wrapped [sha256.Size]byte) tink.AEAD {
	if c.max <= 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[subject]
	if !ok {
		return nil
	}
	e := el.Value.(*cacheEntry)
	if e.wrapped != wrapped {
		return nil
	}
	c.order.MoveToFront(el)
	return e.aead
}

func (c *keyCache) put(subject string, wrapped [sha256.Size]byte, a tink.AEAD) {
	if c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[subject]; ok {
		e := el.Value.(*cacheEntry)
		e.wrapped, e.aead = wrapped, a
		c.order.MoveToFront(el)
		return
	}
	c.items[subject] = c.order.PushFront(&cacheEntry{subject: subject, wrapped: wrapped, aead: a})
	for c.order.Len() > c.max {
		old := c.order.Back()
		c.order.Remove(old)
		delete(c.items, old.Value.(*cacheEntry).subject)
	}
}

func (c *keyCache) drop(subject string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[subject]; ok {
		c.order.Remove(el)
		delete(c.items, subject)
	}
}

func (c *keyCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
