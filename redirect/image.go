package redirect

import (
	"bytes"
	"fmt"
	"io"

	"github.com/amtkit/amtkit/wsman"
)

// ISO 9660 and El Torito layout (ECMA-119 §8; El Torito §2): volume
// descriptors start at sector 16 of 2,048 bytes; each has its type in
// byte 0 and "CD001" in bytes 1-5; a boot record (type 0) names "EL
// TORITO SPECIFICATION" in bytes 7-38; type 255 ends the set.
const (
	isoSector        = 2048
	isoFirstVD       = 16
	isoMaxVDs        = 64
	vdBootRecord     = 0
	vdTerminator     = 255
	elToritoSystemID = "EL TORITO SPECIFICATION"
)

// CheckCD reports whether m holds an ISO 9660 image a BIOS can boot: one
// with an El Torito boot record. The error matches wsman.ErrInvalidArgument.
func CheckCD(m *Medium) error {
	if m == nil || m.Reader == nil {
		return wsman.InvalidArgument("redirect: no CD image")
	}
	if m.Size < (isoFirstVD+1)*isoSector {
		return wsman.InvalidArgument("redirect: the CD image is not an ISO 9660 image (only %d bytes)", m.Size)
	}
	vd := make([]byte, isoSector)
	sawISO := false
	for i := int64(0); i < isoMaxVDs && (isoFirstVD+i+1)*isoSector <= m.Size; i++ {
		if _, err := m.Reader.ReadAt(vd, (isoFirstVD+i)*isoSector); err != nil && err != io.EOF {
			return fmt.Errorf("redirect: reading the CD image: %w", err)
		}
		if !bytes.Equal(vd[1:6], []byte("CD001")) {
			// Not a volume descriptor: tolerated (some tools write the
			// boot record without a primary descriptor before it).
			continue
		}
		sawISO = true
		switch vd[0] {
		case vdBootRecord:
			if bytes.HasPrefix(vd[7:39], []byte(elToritoSystemID)) {
				return nil
			}
		case vdTerminator:
			return wsman.InvalidArgument("redirect: the CD image has no El Torito boot record: a BIOS cannot boot it")
		}
	}
	if !sawISO {
		return wsman.InvalidArgument("redirect: the CD image is not an ISO 9660 image (no CD001 volume descriptor)")
	}
	return wsman.InvalidArgument("redirect: the CD image has no El Torito boot record: a BIOS cannot boot it")
}

// CheckFloppy reports whether m holds a FAT floppy image: a boot sector
// ending in 0x55 0xAA with a plausible BIOS parameter block. The error
// matches wsman.ErrInvalidArgument.
func CheckFloppy(m *Medium) error {
	if m == nil || m.Reader == nil {
		return wsman.InvalidArgument("redirect: no floppy image")
	}
	if m.Size < 512 {
		return wsman.InvalidArgument("redirect: the floppy image is not a FAT image (only %d bytes)", m.Size)
	}
	bs := make([]byte, 512)
	if _, err := m.Reader.ReadAt(bs, 0); err != nil && err != io.EOF {
		return fmt.Errorf("redirect: reading the floppy image: %w", err)
	}
	bytesPerSector := int(bs[11]) | int(bs[12])<<8
	sectorsPerCluster := bs[13]
	fats := bs[16]
	okBPB := (bytesPerSector == 512 || bytesPerSector == 1024 || bytesPerSector == 2048 || bytesPerSector == 4096) &&
		sectorsPerCluster != 0 && sectorsPerCluster&(sectorsPerCluster-1) == 0 && fats >= 1 && fats <= 2
	if bs[510] != 0x55 || bs[511] != 0xAA || !okBPB {
		return wsman.InvalidArgument("redirect: the floppy image is not a FAT image (no boot sector with a BIOS parameter block)")
	}
	return nil
}
