// Package testiso builds small bootable CD images for tests: an ISO 9660
// volume descriptor set with an El Torito boot record, a boot catalog and a
// no-emulation boot image, the rest filled with a pattern so that every
// block differs.
package testiso

import "encoding/binary"

// BlockSize is the CD block size.
const BlockSize = 2048

// Make returns a CD image of blocks 2048-byte blocks: the primary volume
// descriptor at sector 16, the El Torito boot record at 17, the terminator at
// 18, the boot catalog at 19 and a boot image of bootSectors 512-byte
// sectors at sector 20.
func Make(blocks, bootSectors int) []byte {
	if blocks < 21 {
		blocks = 21
	}
	img := make([]byte, blocks*BlockSize)
	for i := range img {
		img[i] = byte(i*7 + i>>11)
	}
	descriptor := func(sector int, typ byte) []byte {
		d := img[sector*BlockSize : (sector+1)*BlockSize]
		clear(d)
		d[0], d[6] = typ, 1
		copy(d[1:6], "CD001")
		return d
	}
	descriptor(16, 1)
	br := descriptor(17, 0)
	copy(br[7:], "EL TORITO SPECIFICATION")
	binary.LittleEndian.PutUint32(br[0x47:], 19)
	descriptor(18, 0xFF)
	cat := img[19*BlockSize : 20*BlockSize]
	clear(cat)
	cat[0] = 1 // validation entry
	cat[0x1E], cat[0x1F] = 0x55, 0xAA
	var sum uint16
	for i := 0; i < 32; i += 2 {
		sum += binary.LittleEndian.Uint16(cat[i:])
	}
	binary.LittleEndian.PutUint16(cat[0x1C:], -sum)
	e := cat[32:64] // initial entry: bootable, no emulation
	e[0] = 0x88
	binary.LittleEndian.PutUint16(e[6:], uint16(bootSectors))
	binary.LittleEndian.PutUint32(e[8:], 20)
	return img
}
