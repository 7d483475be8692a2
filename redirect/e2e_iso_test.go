package redirect_test

import "github.com/amtkit/amtkit/internal/testiso"

// isoImage builds a bootable CD image of blocks 2048-byte blocks with a boot
// image of bootSectors 512-byte sectors at sector 20.
func isoImage(blocks int, bootSectors int) []byte { return testiso.Make(blocks, bootSectors) }
