package main

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"sync/atomic"
)

// requestIDs names requests: 26 characters of base32, as crypto/rand.Text
// gives, for a fraction of its cost on the webhook's path. Each id is a
// counter encrypted with AES under a key drawn at start: unique within the
// process (AES is a permutation), random-looking across processes, and
// telling an outsider nothing about how many requests came.
type requestIDs struct {
	block cipher.Block
	count atomic.Uint64
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

func newRequestIDs() *requestIDs {
	key := make([]byte, 16)
	rand.Read(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err) // unreachable: a 16-byte key is always valid
	}
	return &requestIDs{block: block}
}

func (g *requestIDs) next() string {
	var counter, id [aes.BlockSize]byte
	binary.BigEndian.PutUint64(counter[8:], g.count.Add(1))
	g.block.Encrypt(id[:], counter[:])
	var text [26]byte
	idEncoding.Encode(text[:], id[:])
	return string(text[:])
}
