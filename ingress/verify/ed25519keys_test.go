package verify

import (
	"crypto/ed25519"
	"fmt"
	"testing"
)

// TestEd25519SmallOrderKeysForge shows why ed25519KeyUsable refuses the
// small-order points: under each of them (and with the sign bit set) the
// standard library accepts a signature that needs no private key, R the
// identity and S = 0, for some of a few hundred messages. It also shows the
// list holds no typo, since a wrong entry would not forge.
func TestEd25519SmallOrderKeysForge(t *testing.T) {
	forged := make([]byte, ed25519.SignatureSize)
	forged[0] = 1 // R = identity (y = 1), S = 0
	for i, bad := range ed25519SmallOrder {
		for _, sign := range []byte{0, 0x80} {
			key := bad
			key[31] |= sign
			t.Run(fmt.Sprintf("entry %d with sign bit %#x", i, sign), func(t *testing.T) {
				if ed25519KeyUsable(key[:]) {
					t.Fatalf("%x is usable", key)
				}
				for m := 0; m < 512; m++ {
					if ed25519.Verify(key[:], []byte(fmt.Sprint("message ", m)), forged) {
						return
					}
				}
				t.Fatalf("no message forges under %x: not a small-order point", key)
			})
		}
	}
}

func TestEd25519KeyUsable(t *testing.T) {
	cases := []struct {
		name string
		key  []byte
		want bool
	}{
		{name: "a generated public key is usable", key: testEd25519Key("usable").Public().(ed25519.PublicKey), want: true},
		{name: "a 31-byte key is not usable (ed25519.Verify would panic)", key: make([]byte, 31)},
		{name: "a 64-byte private key is not usable as a public key", key: testEd25519Key("private")},
		{name: "nothing is not a key", key: nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ed25519KeyUsable(tc.key); got != tc.want {
				t.Fatalf("ed25519KeyUsable = %v, want %v", got, tc.want)
			}
		})
	}
}
