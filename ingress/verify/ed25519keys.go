package verify

import (
	"bytes"
	"crypto/ed25519"
)

// Helpers shared by the verifiers that check Ed25519 signatures (Discord,
// Standard Webhooks v1a).

// ed25519SmallOrder lists the encodings of the Ed25519 points of small order
// (1, 2, 4 and 8), canonical and not, with the sign bit of the last byte
// cleared; the same list libsodium refuses. crypto/ed25519 accepts such a
// point as a public key, and under it a signature with R the identity and
// S = 0 verifies for a large share of all messages (for the identity point,
// for every message). Keys come from configuration, not from requests, so
// this guards against a degenerate key pasted by mistake or on purpose, not
// against senders. TestEd25519SmallOrderKeysForge shows each entry forges.
var ed25519SmallOrder = [][ed25519.PublicKeySize]byte{
	// 0 (order 4)
	{},
	// 1 (order 1, the identity)
	{0x01},
	// order 8
	{0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0,
		0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05},
	// order 8
	{0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f,
		0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a},
	// p-1 (order 2)
	{0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
	// p, a non-canonical 0 (order 4)
	{0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
	// p+1, a non-canonical 1 (order 1)
	{0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
}

// ed25519KeyUsable reports whether raw can serve as an Ed25519 public key:
// exactly 32 bytes (crypto/ed25519.Verify panics on any other length) and
// not a point of small order.
func ed25519KeyUsable(raw []byte) bool {
	if len(raw) != ed25519.PublicKeySize {
		return false
	}
	var k [ed25519.PublicKeySize]byte
	copy(k[:], raw)
	// The top bit is the sign of x, which does not change the order.
	k[ed25519.PublicKeySize-1] &= 0x7f
	for _, bad := range ed25519SmallOrder {
		if k == bad {
			return false
		}
	}
	return true
}

// appendEd25519Key adds key to keys unless an equal key is already there, so
// that a key listed both in the options and in the per-request keys is tried
// once.
func appendEd25519Key(keys []ed25519.PublicKey, key ed25519.PublicKey) []ed25519.PublicKey {
	for _, k := range keys {
		if bytes.Equal(k, key) {
			return keys
		}
	}
	return append(keys, key)
}

// ed25519AnyVerifies reports whether any of sigs is a valid signature of msg
// under any of keys. Nothing secret is compared here (the keys are public),
// so an early return leaks nothing.
func ed25519AnyVerifies(keys []ed25519.PublicKey, msg []byte, sigs [][]byte) bool {
	for _, k := range keys {
		for _, s := range sigs {
			if len(k) == ed25519.PublicKeySize && ed25519.Verify(k, msg, s) {
				return true
			}
		}
	}
	return false
}
