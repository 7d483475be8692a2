package wsman

import (
	"crypto/md5"
	"encoding/hex"
)

// md5hex is the hash HTTP digest specifies for AMT; it is not used for
// anything but the digest computation the protocol requires.
func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}
