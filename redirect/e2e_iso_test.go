package redirect_test

import "encoding/binary"

// isoImage builds a CD image of blocks 2048-byte blocks with an El Torito
// boot record at sector 17, a boot catalog at sector 19, a primary volume
// descriptor at 16 and a boot image of bootSectors 512-byte sectors at
// sector 20; the rest is a pattern.
func isoImage(blocks int, bootSectors int) []byte {
	img := make([]byte, blocks*2048)
	for i := range img {
		img[i] = byte(i*7 + i>>11)
	}
	pvd := img[16*2048 : 17*2048]
	clear(pvd)
	pvd[0], pvd[6] = 1, 1
	copy(pvd[1:6], "CD001")
	br := img[17*2048 : 18*2048]
	clear(br)
	br[0], br[6] = 0, 1
	copy(br[1:6], "CD001")
	copy(br[7:], "EL TORITO SPECIFICATION")
	binary.LittleEndian.PutUint32(br[0x47:], 19)
	term := img[18*2048 : 19*2048]
	clear(term)
	term[0], term[6] = 0xFF, 1
	copy(term[1:6], "CD001")
	cat := img[19*2048 : 20*2048]
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
